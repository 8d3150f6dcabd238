package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/identity"
	"tiersbox/box/store"
	"tiersbox/sync/bep"
	"tiersbox/sync/discovery"
	"tiersbox/sync/link"
)

// The running daemon answers `tiersbox link`, `tiersbox peers` and
// `tiersbox export` on a Unix socket in its data folder, readable by its
// owner only: the database is locked while it runs, and staff should not
// need to stop the box to link another.
const controlSocket = "control.sock"

// seenPeers is what discovery saw; empty when it is off.
var seenPeers struct {
	sync.Mutex
	svc *discovery.Service
}

func discovered() []discovery.Peer {
	seenPeers.Lock()
	defer seenPeers.Unlock()
	if seenPeers.svc == nil {
		return nil
	}
	return seenPeers.svc.Peers()
}

// runDiscovery announces the box on sync.interfaces and tells the sync
// node where linked boxes were seen.
func runDiscovery(ctx context.Context, cfg Config, id *identity.Identity, venue string, node *bep.Node, logger *slog.Logger) error {
	addr := node.Addr()
	if addr == nil {
		logger.Warn("mDNS discovery is on but sync does not listen: nothing to announce")
		return nil
	}
	svc, err := discovery.Run(ctx, discovery.Options{
		DeviceID: id.DeviceID, Name: venue, Version: versionString(), Port: addr.(*net.TCPAddr).Port,
		Interfaces: cfg.Sync.Interfaces, Interval: cfg.Sync.DiscoveryInterval.Duration, Logger: logger,
		OnPeer: func(p discovery.Peer) { node.Discovered(p.DeviceID, p.Addresses) },
	})
	if err != nil {
		// Visitors still get their box: it is only invisible to others.
		logger.Error("mDNS discovery could not start", "error", err)
		return nil
	}
	seenPeers.Lock()
	seenPeers.svc = svc
	seenPeers.Unlock()
	<-ctx.Done()
	return svc.Close()
}

// peersReport is the answer to `tiersbox peers`.
type peersReport struct {
	Device     string              `json:"device"`
	Folders    []bep.FolderSummary `json:"folders"`
	Discovered []discovery.Peer    `json:"discovered"`
	Linked     []bep.PeerStatus    `json:"linked"`
}

// serveControl answers the CLI on the control socket until ctx is done.
func serveControl(ctx context.Context, dataDir string, links *link.Links, node *bep.Node, logger *slog.Logger, more ...func(*http.ServeMux)) error {
	path := filepath.Join(dataDir, controlSocket)
	os.Remove(path) // left by a box that was killed; the database lock proves none runs
	l, err := net.Listen("unix", path)
	if err != nil {
		logger.Error("the control socket could not open: `tiersbox link` needs the box stopped", "error", err)
		return nil
	}
	os.Chmod(path, 0o600)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /links", func(w http.ResponseWriter, r *http.Request) {
		devs, err := links.List()
		reply(w, devs, err)
	})
	mux.HandleFunc("POST /links", func(w http.ResponseWriter, r *http.Request) {
		var d link.Device
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&d); err != nil {
			reply(w, nil, fmt.Errorf("%w: %v", errUsage, err))
			return
		}
		d, err := links.Add(d)
		reply(w, d, err)
	})
	mux.HandleFunc("DELETE /links/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := protocol.DeviceIDFromString(r.PathValue("id"))
		if err != nil {
			reply(w, nil, fmt.Errorf("%w: %v", errUsage, err))
			return
		}
		found, err := links.Remove(id)
		reply(w, found, err)
	})
	mux.HandleFunc("GET /peers", func(w http.ResponseWriter, r *http.Request) {
		st, err := node.Status()
		reply(w, peersReport{Device: node.DeviceID().String(), Folders: node.Folders(), Discovered: discovered(), Linked: st}, err)
	})
	for _, add := range more {
		add(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control socket: %w", err)
	}
	os.Remove(path)
	return nil
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, errUsage) || errors.Is(err, link.ErrAddress) || errors.Is(err, link.ErrSelf) || errors.Is(err, link.ErrName) {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// controlClient talks to the running daemon of a data folder.
func controlClient(dataDir string) *http.Client {
	path := filepath.Join(dataDir, controlSocket)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// control calls the daemon; errNoDaemon means none runs on dataDir.
func control(dataDir, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://box"+path, rd)
	resp, err := controlClient(dataDir).Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDaemon, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode == http.StatusBadRequest {
			return fmt.Errorf("%w: %s", errUsage, e.Error)
		}
		return errors.New(e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

var errNoDaemon = errors.New("no box running on this data folder")

// withLinks runs f on the links of a stopped box, opening its database.
func withLinks(dataDir string, f func(*link.Links) error) error {
	id, err := loadIdentity(dataDir)
	if err != nil {
		return err
	}
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return f(link.New(st, id.DeviceID))
}

// cmdLink is `tiersbox link add|list|remove`.
func cmdLink(ctx context.Context, args []string, env cmdEnv) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tiersbox link add DEVICE-ID [--address tcp://HOST:PORT] [--name NAME] | list | remove DEVICE-ID", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("link "+sub, env)
	var common commonFlags
	common.register(fs)
	var addrs multiFlag
	var rate size
	name := ""
	if sub == "add" {
		fs.Var(&addrs, "address", "`tcp://HOST:PORT` where the device listens (may be repeated); not needed on the same LAN with discovery")
		fs.StringVar(&name, "name", "", "a `name` for the device")
		fs.TextVar(&rate, "max-rate", &rate, "cap this link at `SIZE` a second each way, such as 200KB (default: sync.max_rate)")
	}
	// The device ID comes first, as people type it; flags follow.
	var idArg string
	if (sub == "add" || sub == "remove") && len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		idArg, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if idArg == "" && fs.NArg() > 0 {
		idArg = fs.Arg(0)
	}
	switch sub {
	case "add":
		id, err := protocol.DeviceIDFromString(idArg)
		if err != nil {
			return fmt.Errorf("%w: %q is not a device ID: %v", errUsage, idArg, err)
		}
		d := link.Device{ID: id, Name: name, Addresses: addrs, MaxRate: rate.Bytes}
		var got link.Device
		err = control(common.data, "POST", "/links", d, &got)
		if errors.Is(err, errNoDaemon) {
			err = withLinks(common.data, func(l *link.Links) error {
				var err error
				got, err = l.Add(d)
				return err
			})
		}
		if errors.Is(err, link.ErrAddress) || errors.Is(err, link.ErrSelf) || errors.Is(err, link.ErrName) || errors.Is(err, link.ErrRate) {
			err = fmt.Errorf("%w: %v", errUsage, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "linked %s %s\n", got.ID, got.Name)
		return nil
	case "remove":
		id, err := protocol.DeviceIDFromString(idArg)
		if err != nil {
			return fmt.Errorf("%w: %q is not a device ID: %v", errUsage, idArg, err)
		}
		var found bool
		err = control(common.data, "DELETE", "/links/"+id.String(), nil, &found)
		if errors.Is(err, errNoDaemon) {
			err = withLinks(common.data, func(l *link.Links) error {
				var err error
				found, err = l.Remove(id)
				return err
			})
		}
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s was not linked", id)
		}
		fmt.Fprintf(env.stdout, "unlinked %s\n", id)
		return nil
	case "list":
		var devs []link.Device
		err := control(common.data, "GET", "/links", nil, &devs)
		if errors.Is(err, errNoDaemon) {
			err = withLinks(common.data, func(l *link.Links) error {
				var err error
				devs, err = l.List()
				return err
			})
		}
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE ID\tNAME\tADDRESSES")
		for _, d := range devs {
			fmt.Fprintf(tw, "%s\t%s\t%v\n", d.ID, d.Name, d.Addresses)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: unknown `link %s`: add, list or remove", errUsage, sub)
}

// cmdPeers is `tiersbox peers`: the boxes seen on the network and the
// linked devices with their state. It needs the box running.
func cmdPeers(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("peers", env)
	var common commonFlags
	common.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var rep peersReport
	if err := control(common.data, "GET", "/peers", nil, &rep); err != nil {
		return fmt.Errorf("%w (start it with `tiersbox run --data %s`)", err, common.data)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(env.stdout, "this box: %s\n\n", rep.Device)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ON THE NETWORK\tNAME\tADDRESS\tVERSION")
	for _, p := range rep.Discovered {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.DeviceID, p.Name, first(p.Addresses), p.Version)
	}
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "LINKED\tNAME\tSTATE\tIN / OUT\tTO TRANSFER")
	for _, p := range rep.Linked {
		state := "never seen"
		switch {
		case p.Connected:
			state = "connected " + p.Address
		case !p.LastSeen.IsZero():
			state = "last seen " + p.LastSeen.Local().Format("2006-01-02 15:04")
		}
		todo := "-"
		if p.Connected {
			var files int
			var bytes int64
			for _, f := range p.Folders {
				files += f.NeedFiles + f.TheyNeedFiles
				bytes += f.NeedBytes + f.TheyNeedBytes
			}
			todo = "in sync"
			if files > 0 {
				todo = strconv.Itoa(files) + " files, " + strconv.FormatInt(bytes, 10) + " bytes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d / %d\t%s\n", p.ID, p.Name, state, p.InBytes, p.OutBytes, todo)
	}
	return tw.Flush()
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
