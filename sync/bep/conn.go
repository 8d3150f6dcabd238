package bep

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// alpn is BEP's protocol name in the TLS handshake.
const alpn = "bep/1.0"

// errUnknownDevice refuses a device that staff did not link.
var errUnknownDevice = errors.New("bep: device not linked to this box")

// tlsConfig is BEP's TLS: TLS 1.3 only, the box certificate on both sides,
// and trust by device ID (the SHA-256 of the certificate) rather than by
// certificate authority. allowed decides, during the handshake and so
// before any BEP byte, whether a device may connect.
func tlsConfig(cert tls.Certificate, allowed func(protocol.DeviceID) bool) *tls.Config {
	return &tls.Config{
		Certificates:       []tls.Certificate{cert},
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{alpn},
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true, // identity is the device ID, checked below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) != 1 {
				return fmt.Errorf("bep: %d certificates presented, want one", len(raw))
			}
			if id := protocol.NewDeviceID(raw[0]); !allowed(id) {
				return fmt.Errorf("%w: %s", errUnknownDevice, id)
			}
			return nil
		},
	}
}

// peerID returns the device ID of a connection's peer.
func peerID(tc *tls.Conn) (protocol.DeviceID, error) {
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) != 1 {
		return protocol.DeviceID{}, errors.New("bep: no peer certificate")
	}
	return protocol.NewDeviceID(certs[0].Raw), nil
}

// meteredConn counts the bytes of a connection and, when limit is set,
// keeps them under a rate shared by both directions' own budgets.
type meteredConn struct {
	net.Conn
	in, out        atomic.Int64
	rlimit, wlimit *limiter
}

func (c *meteredConn) Read(b []byte) (int, error) {
	if c.rlimit != nil && len(b) > chunk {
		b = b[:chunk]
	}
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	c.rlimit.wait(n)
	return n, err
}

func (c *meteredConn) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		part := b
		if c.wlimit != nil && len(part) > chunk {
			part = part[:chunk]
		}
		c.wlimit.wait(len(part))
		n, err := c.Conn.Write(part)
		written += n
		c.out.Add(int64(n))
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// chunk is the largest read or write a limited connection makes at once,
// so that the limit is smooth rather than bursty.
const chunk = 16 << 10

// limiter is a token bucket of bytes per second. A nil limiter does not
// limit.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(bytesPerSecond int64) *limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &limiter{rate: float64(bytesPerSecond), tokens: float64(bytesPerSecond), last: time.Now()}
}

// wait takes n bytes from the bucket, sleeping while it is in debt.
func (l *limiter) wait(n int) {
	if l == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt > 0 {
		time.Sleep(time.Duration(debt / l.rate * float64(time.Second)))
	}
}

// connInfo describes a connection to lib/protocol.
type connInfo struct {
	tc       *tls.Conn
	outgoing bool
	at       time.Time
	id       string
}

func newConnInfo(tc *tls.Conn, outgoing bool) *connInfo {
	b := make([]byte, 8)
	rand.Read(b)
	return &connInfo{tc: tc, outgoing: outgoing, at: time.Now(), id: hex.EncodeToString(b)}
}

func (c *connInfo) Type() string {
	if c.outgoing {
		return "tcp-client"
	}
	return "tcp-server"
}
func (c *connInfo) Transport() string        { return "tcp" }
func (c *connInfo) IsLocal() bool            { return isLocal(c.tc.RemoteAddr()) }
func (c *connInfo) RemoteAddr() net.Addr     { return c.tc.RemoteAddr() }
func (c *connInfo) Priority() int            { return 10 }
func (c *connInfo) String() string           { return c.Type() + " " + c.tc.RemoteAddr().String() }
func (c *connInfo) Crypto() string           { return tls.CipherSuiteName(c.tc.ConnectionState().CipherSuite) }
func (c *connInfo) EstablishedAt() time.Time { return c.at }
func (c *connInfo) ConnectionID() string     { return c.id }

func isLocal(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && (ta.IP.IsLoopback() || ta.IP.IsPrivate() || ta.IP.IsLinkLocalUnicast())
}

// handshake runs TLS and the Hello exchange on a new connection, with a
// deadline, and returns the peer's device ID and Hello.
func handshake(ctx context.Context, tc *tls.Conn, hello protocol.Hello) (protocol.DeviceID, protocol.Hello, error) {
	deadline := time.Now().Add(10 * time.Second)
	tc.SetDeadline(deadline)
	defer tc.SetDeadline(time.Time{})
	if err := tc.HandshakeContext(ctx); err != nil {
		return protocol.DeviceID{}, protocol.Hello{}, fmt.Errorf("bep: TLS handshake: %w", err)
	}
	id, err := peerID(tc)
	if err != nil {
		return id, protocol.Hello{}, err
	}
	hello.Timestamp = time.Now().UnixNano()
	remote, err := protocol.ExchangeHello(tc, hello)
	if err != nil {
		return id, remote, fmt.Errorf("bep: hello from %s: %w", id.Short(), err)
	}
	return id, remote, nil
}
