//go:build !race && linux

package gateway

const raceEnabled = false
