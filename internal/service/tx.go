package service

import "github.com/slipwayhq/slipway/internal/store"

// storeTx is the store as seen inside a transaction.
type storeTx = store.Store
