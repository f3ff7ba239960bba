// Package pebbletest runs Debian's pebble ACME test server (with
// pebble-challtestsrv as its DNS) for tests that issue certificates.
package pebbletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// Pebble is a running pebble ACME server (Let's Encrypt's test CA, the
// Debian package of the same name) with pebble-challtestsrv as its DNS,
// answering every name with 127.0.0.1 so that validations reach the
// test's listeners.
type Pebble struct {
	DirURL   string               // ACME directory
	MgmtURL  string               // management interface (roots, intermediates)
	Trust    *x509.CertPool       // for pebble's own HTTPS (ACME and management)
	CertFile string               // PEM of pebble's own HTTPS certificate
	log      *testutil.SyncBuffer // pebble's and the DNS server's output
}

// Start starts pebble validating HTTP-01 on httpPort and
// TLS-ALPN-01 on tlsPort of 127.0.0.1. Under -short it skips; otherwise a
// missing or broken pebble FAILS the test, so CI cannot pass by silently
// skipping the only test that issues a certificate.
func Start(t *testing.T, httpPort, tlsPort int) *Pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the pebble ACME test server; skipped with -short")
	}
	var bins [2]string
	for i, name := range []string{"pebble", "pebble-challtestsrv"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("pebbletest: this test needs %s from Debian's pebble package "+
				"(apt-get install pebble; .ci/run installs it; run with -short to skip): %v", name, err)
		}
		bins[i] = path
	}
	dir := t.TempDir()
	p := &Pebble{log: &testutil.SyncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble output:\n%s", p.log)
		}
	})

	dnsAddr := freeDNSAddr(t)
	challMgmt := freeTCPAddr(t)
	startProcess(t, p.log, nil, bins[1],
		"-dns01", dnsAddr, "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", challMgmt, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	waitFor(t, p.log, "pebble-challtestsrv", func() error {
		c, err := net.DialTimeout("tcp", challMgmt, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})

	// Debian ships no test certificate for pebble's own HTTPS, so make one.
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	p.Trust = writeSelfSigned(t, certFile, keyFile)
	p.CertFile = certFile
	acmeAddr, mgmtAddr := freeTCPAddr(t), freeTCPAddr(t)
	p.DirURL, p.MgmtURL = "https://"+acmeAddr+"/dir", "https://"+mgmtAddr
	config, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           acmeAddr,
		"managementListenAddress": mgmtAddr,
		"certificate":             certFile,
		"privateKey":              keyFile,
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
	}})
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PEBBLE_VA_NOSLEEP=1",      // validate at once
		"PEBBLE_WFE_NONCEREJECT=0", // never reject a good nonce
		"PEBBLE_AUTHZREUSE=0",      // every order validates for real
	}
	startProcess(t, p.log, env, bins[0], "-config", configFile, "-dnsserver", dnsAddr)
	waitFor(t, p.log, "pebble", func() error {
		_, err := p.get(p.DirURL)
		return err
	})
	return p
}

// get fetches url from pebble, trusting its HTTPS certificate.
func (p *Pebble) get(url string) ([]byte, error) {
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Trust}},
	}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, err
}

// IssuingRoot returns the root pebble issues under, generated at start
// and served only by its management interface.
func (p *Pebble) IssuingRoot(t *testing.T) *x509.Certificate {
	t.Helper()
	body, err := p.get(p.MgmtURL + "/roots/0")
	if err != nil {
		t.Fatalf("fetch pebble's root: %v", err)
	}
	block, _ := pem.Decode(body)
	if block == nil {
		t.Fatalf("pebble's /roots/0 is not PEM: %q", body)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse pebble's root: %v", err)
	}
	return root
}

// Orders counts the orders pebble has accepted, from its log.
func (p *Pebble) Orders() int {
	return strings.Count(p.log.String(), "Added order")
}

// startProcess starts bin, its output going to out, and stops it when the
// test ends.
func startProcess(t *testing.T, out io.Writer, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// waitFor polls ready for up to 20 seconds.
func waitFor(t *testing.T, log *testutil.SyncBuffer, what string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v\noutput:\n%s", what, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeTCPAddr returns a loopback address with a port that was free a
// moment ago.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freeDNSAddr returns a loopback address whose port is free for both UDP
// and TCP, as a DNS server binds both.
func freeDNSAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", addr)
		pc.Close()
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return ""
}

// writeSelfSigned writes a certificate for 127.0.0.1 and localhost and
// returns a pool that trusts it.
func writeSelfSigned(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "pebble test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
