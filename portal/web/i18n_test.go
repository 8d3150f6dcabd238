package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	texttemplate "text/template"
	"text/template/parse"
	"unicode"

	"golang.org/x/net/html"
)

// The portal speaks French and English completely: every message exists in
// both, every key the templates and the Go code use exists, and no text a
// visitor reads is written in a template outside the catalogue.

// keyShape is what a message key looks like: words joined by dots.
var keyShape = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z0-9]+)+$`)

// notKeys are string literals in the Go code that look like message keys
// but are not, each with its reason.
var notKeys = map[string]string{}

// looseText are the texts templates may write outside the catalogue, each
// with its reason. Anything else with a letter in it is a translation
// forgotten.
var looseText = map[string]string{
	".txt":  "a file format's name, the same in every language",
	".md":   "a file format's name, the same in every language",
	".html": "a file format's name, the same in every language",
	".json": "a file format's name, the same in every language",
}

// translatedAttrs are the attributes whose value a person reads or hears.
var translatedAttrs = []string{"title", "alt", "aria-label", "placeholder", "aria-description", "aria-roledescription", "value"}

func TestCatalogLanguagesMatch(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`)
	langs := slices.Sorted(func(yield func(string) bool) {
		for l := range catalog {
			if !yield(l) {
				return
			}
		}
	})
	if !slices.Equal(langs, []string{"en", "fr"}) {
		t.Fatalf("the catalogue has languages %v, want en and fr", langs)
	}
	for key, fr := range catalog["fr"] {
		en, ok := catalog["en"][key]
		if !ok {
			t.Errorf("English lacks %q", key)
			continue
		}
		if strings.TrimSpace(fr) == "" || strings.TrimSpace(en) == "" {
			t.Errorf("%q is empty in a language: fr %q, en %q", key, fr, en)
		}
		// The same arguments in the same order, or one language shows
		// "%!s(MISSING)".
		if f, e := verbs.FindAllString(fr, -1), verbs.FindAllString(en, -1); !slices.Equal(f, e) {
			t.Errorf("%q takes %v in French but %v in English", key, f, e)
		}
	}
	for key := range catalog["en"] {
		if _, ok := catalog["fr"][key]; !ok {
			t.Errorf("French lacks %q", key)
		}
	}
}

// templateTrees parses every template of the portal, without running it,
// by file name.
func templateTrees(t *testing.T) map[string]map[string]*parse.Tree {
	t.Helper()
	funcs := map[string]any{"t": func(string, ...any) string { return "" }, "static": func(string) string { return "" }}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no template found: %v", err)
	}
	out := make(map[string]map[string]*parse.Tree)
	for _, f := range files {
		src, err := templateFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := texttemplate.New(f).Funcs(funcs).Parse(string(src))
		if err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		out[f] = make(map[string]*parse.Tree)
		for _, d := range tmpl.Templates() {
			if d.Tree != nil {
				out[f][d.Name()] = d.Tree
			}
		}
	}
	return out
}

// walkTemplate calls visit for every node of a template, in order.
func walkTemplate(n parse.Node, visit func(parse.Node)) {
	if n == nil {
		return
	}
	visit(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkTemplate(c, visit)
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, visit)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkTemplate(c, visit)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, visit)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.TemplateNode:
		walkTemplate(n.Pipe, visit)
	}
}

func walkBranch(b *parse.BranchNode, visit func(parse.Node)) {
	walkTemplate(b.Pipe, visit)
	walkTemplate(b.List, visit)
	if b.ElseList != nil {
		walkTemplate(b.ElseList, visit)
	}
}

// templateKeys are the message keys the templates name: the string after
// t, as in {{t "welcome.title"}} or (t "privacy.when").
func templateKeys(t *testing.T) map[string][]string {
	keys := make(map[string][]string) // key → files
	for file, trees := range templateTrees(t) {
		for _, tree := range trees {
			walkTemplate(tree.Root, func(n parse.Node) {
				cmd, ok := n.(*parse.CommandNode)
				if !ok || len(cmd.Args) < 2 {
					return
				}
				if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok && id.Ident == "t" {
					if s, ok := cmd.Args[1].(*parse.StringNode); ok {
						keys[s.Text] = append(keys[s.Text], file)
					}
				}
			})
		}
	}
	return keys
}

// goKeys are the string literals of the package's Go code (tests left out)
// that look like message keys: a known key's first word, then dotted words.
func goKeys(t *testing.T) map[string][]string {
	t.Helper()
	prefixes := make(map[string]bool)
	for key := range catalog["fr"] {
		prefixes[strings.SplitN(key, ".", 2)[0]] = true
	}
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	keys := make(map[string][]string)
	for _, f := range files {
		// Not the catalogue itself, whose keys are all there.
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "i18n") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !keyShape.MatchString(s) || !prefixes[strings.SplitN(s, ".", 2)[0]] {
				return true
			}
			if _, skip := notKeys[s]; !skip {
				keys[s] = append(keys[s], fset.Position(lit.Pos()).String())
			}
			return true
		})
	}
	return keys
}

func TestCatalogHasEveryKeyUsed(t *testing.T) {
	tk, gk := templateKeys(t), goKeys(t)
	if len(tk) < 100 || len(gk) < 30 {
		t.Fatalf("found only %d keys in the templates and %d in the Go code: the search is broken", len(tk), len(gk))
	}
	for _, uses := range []map[string][]string{tk, gk} {
		for key, where := range uses {
			for _, lang := range []string{"fr", "en"} {
				if _, ok := catalog[lang][key]; !ok {
					t.Errorf("%s: message %q is missing in %s", where[0], key, lang)
				}
			}
		}
	}
	t.Logf("%d keys in the templates, %d in the Go code, %d in the catalogue", len(tk), len(gk), len(catalog["fr"]))
}

// TestTemplatesHaveNoLooseText reads every template as its HTML with each
// action ({{...}}) replaced by a mark, and fails on text with a letter in
// it outside an action: a sentence written in one language only.
func TestTemplatesHaveNoLooseText(t *testing.T) {
	const mark = "\x00"
	checked := 0
	for file, trees := range templateTrees(t) {
		for name, tree := range trees {
			var b strings.Builder
			walkTemplate(tree.Root, func(n parse.Node) {
				switch n := n.(type) {
				case *parse.TextNode:
					b.Write(n.Text)
				case *parse.ActionNode, *parse.TemplateNode:
					b.WriteString(mark)
				}
			})
			checked += checkLooseText(t, file+" "+name, b.String(), mark)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d texts checked: the search is broken", checked)
	}
}

// checkLooseText reports the texts and attributes of an HTML fragment that
// have a letter outside an action, and returns how many it looked at.
func checkLooseText(t *testing.T, where, src, mark string) int {
	t.Helper()
	checked := 0
	z := html.NewTokenizer(strings.NewReader(src))
	var raw string // inside <script>, <style> or <noscript>
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return checked
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if tok.Data == "script" || tok.Data == "style" || tok.Data == "noscript" {
				raw = tok.Data
			}
			for _, a := range tok.Attr {
				if !slices.Contains(translatedAttrs, a.Key) || (a.Key == "value" && !isButtonInput(tok)) {
					continue
				}
				checked++
				if loose := looseWords(a.Val, mark); loose != "" {
					t.Errorf("%s: <%s %s=%q> is not from the catalogue", where, tok.Data, a.Key, loose)
				}
			}
		case html.EndTagToken:
			if tok.Data == raw {
				raw = ""
			}
		case html.TextToken:
			switch raw {
			case "noscript":
				// Markup for browsers without scripts: read as HTML.
				checked += checkLooseText(t, where, tok.Data, mark)
			case "":
				checked++
				if loose := looseWords(tok.Data, mark); loose != "" {
					t.Errorf("%s: text %q is not from the catalogue", where, loose)
				}
			}
		}
	}
}

// isButtonInput reports an <input> whose value is its label.
func isButtonInput(tok html.Token) bool {
	if tok.Data != "input" {
		return false
	}
	for _, a := range tok.Attr {
		if a.Key == "type" {
			return a.Val == "submit" || a.Val == "button" || a.Val == "reset"
		}
	}
	return false
}

// looseWords returns the parts of s, between actions, that have a letter
// and are not an allowed exception; "" when there is none.
func looseWords(s, mark string) string {
	var loose []string
	for _, part := range strings.Split(s, mark) {
		part = strings.TrimSpace(html.UnescapeString(part))
		if _, ok := looseText[part]; ok || !strings.ContainsFunc(part, unicode.IsLetter) {
			continue
		}
		loose = append(loose, part)
	}
	return strings.Join(loose, " … ")
}
