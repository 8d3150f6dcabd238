package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"tiersbox/box/identity"
	"tiersbox/box/password"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// maxVenueLength bounds the venue's name, shown in every page title.
const maxVenueLength = 80

func cmdInit(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("init", env)
	var common commonFlags
	common.register(fs)
	venue := fs.String("venue", "", "the venue's `name`, shown to visitors (asked if not given)")
	pwFile := fs.String("admin-password-file", "", "read the staff password from this `file` (asked if not given)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	st, err := store.Open(common.data, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if done, err := settings.Saved(st); err != nil {
		return err
	} else if done {
		cur, _ := settings.Load(st)
		return fmt.Errorf("the box in %s is already set up (venue %q); nothing was changed", common.data, cur.Venue)
	}

	in := bufio.NewReader(env.stdin)
	name := strings.TrimSpace(*venue)
	if name == "" {
		fmt.Fprint(env.stdout, "Venue name: ")
		line, err := in.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return fmt.Errorf("reading the venue name: %w", err)
		}
		name = strings.TrimSpace(line)
	}
	if name == "" || utf8.RuneCountInString(name) > maxVenueLength || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' }) {
		return fmt.Errorf("%w: the venue name must be 1 to %d characters on one line", errUsage, maxVenueLength)
	}

	pw, err := readAdminPassword(*pwFile, in, env)
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}

	id, _, err := identity.LoadOrCreate(common.data)
	if err != nil {
		return err
	}
	// Settings last: they mark the box as set up, so an init interrupted
	// before this point can simply be run again.
	if err := settings.Save(st, settings.Settings{Venue: name, AdminPasswordHash: hash}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Box %q set up in %s.\nDevice ID: %s\n", name, common.data, id.DeviceID)
	return nil
}

// readAdminPassword reads the staff password from a file, or asks for it
// twice on a terminal, or reads one line from a pipe.
func readAdminPassword(file string, in *bufio.Reader, env cmdEnv) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the staff password: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		return pw, password.Check(pw)
	}
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(env.stdout, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(env.stdout)
			return string(b), err
		}
		pw, err := ask(fmt.Sprintf("Staff password (at least %d characters): ", password.MinLength))
		if err != nil {
			return "", err
		}
		if err := password.Check(pw); err != nil {
			return "", err
		}
		again, err := ask("Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return pw, nil
	}
	fmt.Fprint(env.stdout, "Staff password: ")
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the staff password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	return pw, password.Check(pw)
}
