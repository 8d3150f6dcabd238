// Command tiersbox is the box's daemon and its command-line tools.
//
// Run it with no argument on a laptop to get a working box on
// http://127.0.0.1:8080 with its data in ./tiersbox-data; see `tiersbox help`
// for the subcommands and the README for installing it on a Raspberry Pi.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errRestart):
		// A restore was staged: start again to apply it (backup.go).
		err = restartSelf()
		fmt.Fprintln(os.Stderr, "tiersbox:", err)
		os.Exit(1)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "tiersbox:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tiersbox:", err)
		os.Exit(1)
	}
}

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env cmdEnv) error
}

// cmdEnv is what a subcommand may use of the process, so tests can run
// them in-process.
type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"run", "run the box (the default when no subcommand is given)", cmdRun},
		{"init", "create the data folder, the box identity and the staff password", cmdInit},
		{"admin-password", "set a new staff password and log every staff session out (box stopped)", cmdAdminPassword},
		{"id", "print the box's device ID, for linking it to other boxes", cmdID},
		{"link", "link another box or Syncthing device: link add DEVICE-ID [--address tcp://HOST:PORT] [--name NAME], link list, link remove DEVICE-ID", cmdLink},
		{"peers", "show the boxes seen on the network and the linked ones with their sync state (box running)", cmdPeers},
		{"export", "write the venue's documentation as a static website in a ZIP: export --out FILE.zip (box running or not)", cmdExport},
		{"backup", "write an archive of the box (database and drive) to a file: backup --out FILE", cmdBackup},
		{"restore", "put an archive in place in a new data folder: restore [--take-identity] FILE (box stopped)", cmdRestore},
		{"network-config", "write the Raspberry Pi's WiFi, DHCP and firewall configuration", cmdNetworkConfig},
		{"version", "print the version", cmdVersion},
		{"help", "explain the subcommands", nil},
	}
}

// run is the whole program, with its process environment passed in.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	name := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	switch name {
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, args, env)
		}
	}
	usage(stderr)
	return fmt.Errorf("%w: unknown subcommand %q", errUsage, name)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tiersbox: an offline box of pads, chat and shared documents for a venue's WiFi")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: tiersbox [subcommand] [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`tiersbox SUBCOMMAND -h` lists a subcommand's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, env cmdEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("tiersbox "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

// parseFlags parses args and refuses extra arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
