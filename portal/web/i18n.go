package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/text/language"

	"tiersbox/box/settings"
)

// Languages the portal speaks, French first: it is the default for a
// visitor whose browser states no preference the box can meet.
var languages = []language.Tag{language.French, language.English}

var matcher = language.NewMatcher(languages)

// langCookie remembers a visitor's choice from the language switch.
const langCookie = "tb_lang"

// pickLang chooses the page language: an explicit choice (cookie) first,
// then the browser's Accept-Language, then French.
func pickLang(r *http.Request) string {
	if lang, ok := r.Context().Value(langKey{}).(string); ok {
		return lang // settled by withLang among the languages offered
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := catalog[c.Value]; ok {
			return c.Value
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "fr"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "fr"
	}
	base, _ := languages[i].Base()
	return base.String()
}

// langKey marks, in a request's context, the language withLang chose.
type langKey struct{}

// withLang chooses each request's language among those staff offer
// (settings.Settings.Offered), once, for every handler that asks pickLang.
func (s *Server) withLang(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := settings.Load(s.opts.Store)
		if err != nil {
			s.logger.Warn("loading the languages offered", "error", err)
		} else {
			r = r.WithContext(context.WithValue(r.Context(), langKey{}, offeredLang(r, st.Offered())))
		}
		h.ServeHTTP(w, r)
	})
}

// offeredLang chooses the page language among those staff offer (the
// default first): the visitor's explicit choice if offered, else the best
// match for the browser's Accept-Language, else the default.
func offeredLang(r *http.Request, offered []string) string {
	if c, err := r.Cookie(langCookie); err == nil && slices.Contains(offered, c.Value) {
		return c.Value
	}
	tags := make([]language.Tag, 0, len(offered))
	for _, code := range offered {
		tags = append(tags, language.Make(code))
	}
	asked, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err == nil && len(asked) > 0 {
		if _, i, conf := language.NewMatcher(tags).Match(asked...); conf != language.No {
			return offered[i]
		}
	}
	return offered[0]
}

// translate returns the message key in lang, formatted with args.
// A missing key shows as itself, which the catalog test forbids.
func translate(lang, key string, args ...any) string {
	msg, ok := catalog[lang][key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// addMessages adds a part's texts to the catalog; the larger parts of the
// portal (chat, drive, admin) keep theirs in files of their own and call it
// from init. A key defined twice is a mistake that panics at start.
func addMessages(part map[string]map[string]string) {
	for lang, msgs := range part {
		for k, v := range msgs {
			if _, dup := catalog[lang][k]; dup {
				panic("i18n: message " + k + " defined twice")
			}
			catalog[lang][k] = v
		}
	}
}

// catalog holds every text of the portal. Keys are grouped by page. Each
// language must have every key (TestCatalogComplete).
var catalog = map[string]map[string]string{
	"fr": {
		"lang.name":              "Français",
		"lang.switch":            "Langue",
		"skip":                   "Aller au contenu",
		"nav.home":               "Accueil",
		"nav.about":              "Ce que propose la box",
		"footer.offline":         "Cette box fonctionne sans internet. Aucun compte, aucun pistage.",
		"footer.version":         "tiersbox %s",
		"stay.title":             "Restez connecté·e à ce WiFi",
		"stay.body":              "Votre téléphone peut afficher « pas d’accès à internet » : c’est normal, tout se passe ici, sur la box. Gardez ce WiFi.",
		"stay.address":           "Si cette fenêtre se ferme, ouvrez votre navigateur et tapez :",
		"stay.or":                "ou",
		"welcome.title":          "Bienvenue",
		"welcome.default":        "Ce WiFi est une box de tiers-lieu : des notes collaboratives, des salons de discussion et des documents partagés, sans internet.",
		"welcome.rules":          "Règles de la maison",
		"welcome.rules.default":  "Soyez bienveillant·e·s et respectueux·ses.\nCe que vous écrivez ici est partagé avec les autres visiteurs et peut être conservé comme documentation commune du lieu.\nNe publiez pas d’informations personnelles sur d’autres personnes.",
		"welcome.nickname":       "Votre pseudo",
		"welcome.nickname.hint":  "Pas de compte, pas d’e-mail : juste un nom que les autres verront, 32 caractères au plus.",
		"welcome.enter":          "Entrer",
		"welcome.privacy":        "La box garde votre pseudo et l’adresse de votre appareil pendant %s pour vous reconnaître, puis les efface.",
		"welcome.again":          "Vous êtes entré·e sous le nom %s. Changez-le ci-dessous si vous voulez.",
		"error.nickname.empty":   "Choisissez un pseudo pour entrer.",
		"error.nickname.long":    "Ce pseudo est trop long : 32 caractères au plus.",
		"error.nickname.invalid": "Ce pseudo contient des caractères non autorisés (caractères de contrôle, < ou >).",
		"home.title":             "Accueil",
		"home.hello":             "Bonjour %s !",
		"home.intro":             "Voici les espaces de la box. Tout reste ici, sur le réseau du lieu.",
		"home.rename":            "Changer de pseudo",
		"space.soon":             "Bientôt disponible",
		"space.pads":             "Pads",
		"space.pads.desc":        "Des notes écrites à plusieurs, en même temps, pour documenter un atelier.",
		"space.chat":             "Discussion",
		"space.chat.desc":        "Des salons pour échanger avec les personnes présentes.",
		"space.drive":            "Documents",
		"space.drive.desc":       "Photos, PDF et sons partagés par le lieu et ses visiteurs.",
		"about.title":            "Cette box fonctionne sans internet",
		"about.from":             "Vous avez demandé %s : cette box n’est pas reliée à internet, ce site n’est donc pas joignable ici.",
		"about.intro":            "Voici ce que la box propose, sans internet :",
		"about.enter":            "Entrer sur la box",
		"error.title":            "Oups",
		"error.notfound":         "Cette page n’existe pas sur la box.",
		"error.badrequest":       "La demande n’a pas pu être comprise.",
		"error.toolarge":         "Ce que vous avez envoyé est trop gros.",
		"error.forbidden":        "Cette demande vient d’une autre page et a été refusée.",
		"error.method":           "Cette page ne s’utilise pas ainsi.",
		"error.internal":         "Quelque chose s’est mal passé sur la box. Réessayez dans un instant.",
		"error.back":             "Retour à l’accueil",
		"error.padname":          "Un nom de pad se compose de 1 à 64 lettres, chiffres, - ou _.",
		"error.padtitle":         "Donnez au pad un titre d’une ligne, 120 caractères au plus.",
		"pads.title":             "Pads",
		"pads.intro":             "Des notes écrites à plusieurs. Chaque pad est gardé sur la box et partagé avec les lieux reliés.",
		"pads.create.title":      "Titre d’un nouveau pad",
		"pads.create.button":     "Créer le pad",
		"pads.import":            "Ou importer un fichier .txt ou .md comme nouveau pad",
		"pads.import.button":     "Importer",
		"history.title":          "Historique",
		"history.none":           "Pas encore de version.",
		"history.someone":        "plusieurs personnes",
		"history.visitor":        "visiteur",
		"history.only":           "Les versions de %s seulement.",
		"history.all":            "Toutes les versions",
		"history.version":        "Version du %s, par %s.",
		"history.restore":        "Rétablir cette version (une nouvelle modification : rien n’est effacé)",
		"error.padimport":        "Choisissez un fichier .txt ou .md en UTF-8, d’un mégaoctet au plus.",
		"pads.filter":            "Chercher un pad par son titre",
		"pads.filter.button":     "Chercher",
		"pads.none":              "Aucun pad pour l’instant.",
		"pads.updated":           "Modifié le %s",
		"pads.open":              "Ouvrir les pads",
		"pad.empty":              "Ce pad est vide pour l’instant.",
		"pad.connected":          "Connecté : vos modifications sont partagées.",
		"pad.connecting":         "Connexion…",
		"pad.offline":            "Hors connexion : vos modifications sont gardées sur cet appareil et seront partagées au retour du WiFi.",
		"pad.preview":            "Aperçu",
		"pad.anonymous":          "anonyme",
		"pad.noscript":           "Pour écrire dans ce pad, activez JavaScript ; sa lecture et ses téléchargements marchent sans.",
		"pad.download":           "Télécharger :",
	},
	"en": {
		"lang.name":              "English",
		"lang.switch":            "Language",
		"skip":                   "Skip to content",
		"nav.home":               "Home",
		"nav.about":              "What this box offers",
		"footer.offline":         "This box works without internet. No account, no tracking.",
		"footer.version":         "tiersbox %s",
		"stay.title":             "Stay connected to this WiFi",
		"stay.body":              "Your phone may say “no internet access”: that is normal, everything happens here, on the box. Keep this WiFi.",
		"stay.address":           "If this window closes, open your browser and type:",
		"stay.or":                "or",
		"welcome.title":          "Welcome",
		"welcome.default":        "This WiFi is a community box: collaborative notes, chat rooms and shared documents, without internet.",
		"welcome.rules":          "House rules",
		"welcome.rules.default":  "Be kind and respectful.\nWhat you write here is shared with the other visitors and may be kept as the venue's common documentation.\nDo not publish personal information about other people.",
		"welcome.nickname":       "Your nickname",
		"welcome.nickname.hint":  "No account, no e-mail: just a name others will see, 32 characters at most.",
		"welcome.enter":          "Enter",
		"welcome.privacy":        "The box keeps your nickname and your device's address for %s to recognise you, then erases them.",
		"welcome.again":          "You entered as %s. Change it below if you like.",
		"error.nickname.empty":   "Choose a nickname to enter.",
		"error.nickname.long":    "This nickname is too long: 32 characters at most.",
		"error.nickname.invalid": "This nickname has characters that are not allowed (control characters, < or >).",
		"home.title":             "Home",
		"home.hello":             "Hello %s!",
		"home.intro":             "Here are the box's spaces. Everything stays here, on the venue's network.",
		"home.rename":            "Change nickname",
		"space.soon":             "Coming soon",
		"space.pads":             "Pads",
		"space.pads.desc":        "Notes written together, at the same time, to document a workshop.",
		"space.chat":             "Chat",
		"space.chat.desc":        "Rooms to talk with the people who are here.",
		"space.drive":            "Documents",
		"space.drive.desc":       "Photos, PDFs and sounds shared by the venue and its visitors.",
		"about.title":            "This box works without internet",
		"about.from":             "You asked for %s: this box is not connected to the internet, so that site cannot be reached here.",
		"about.intro":            "Here is what the box offers, without internet:",
		"about.enter":            "Enter the box",
		"error.title":            "Oops",
		"error.notfound":         "This page does not exist on the box.",
		"error.badrequest":       "The request could not be understood.",
		"error.toolarge":         "What you sent is too large.",
		"error.forbidden":        "This request came from another page and was refused.",
		"error.method":           "This page cannot be used that way.",
		"error.internal":         "Something went wrong on the box. Try again in a moment.",
		"error.back":             "Back to the home page",
		"error.padname":          "A pad name is 1 to 64 letters, digits, - or _.",
		"error.padtitle":         "Give the pad a one-line title, 120 characters at most.",
		"pads.title":             "Pads",
		"pads.intro":             "Notes written together. Every pad is kept on the box and shared with linked venues.",
		"pads.create.title":      "Title of a new pad",
		"pads.create.button":     "Create the pad",
		"pads.import":            "Or import a .txt or .md file as a new pad",
		"pads.import.button":     "Import",
		"history.title":          "History",
		"history.none":           "No version yet.",
		"history.someone":        "several people",
		"history.visitor":        "visitor",
		"history.only":           "Only the versions by %s.",
		"history.all":            "All versions",
		"history.version":        "Version of %s, by %s.",
		"history.restore":        "Restore this version (a new edit: nothing is erased)",
		"error.padimport":        "Choose a UTF-8 .txt or .md file of at most one megabyte.",
		"pads.filter":            "Find a pad by its title",
		"pads.filter.button":     "Search",
		"pads.none":              "No pad yet.",
		"pads.updated":           "Edited %s",
		"pads.open":              "Open the pads",
		"pad.empty":              "This pad is empty for now.",
		"pad.connected":          "Connected: your edits are shared.",
		"pad.connecting":         "Connecting…",
		"pad.offline":            "Offline: your edits are kept on this device and will be shared when the WiFi is back.",
		"pad.preview":            "Preview",
		"pad.anonymous":          "anonymous",
		"pad.noscript":           "To write in this pad, turn JavaScript on; reading and downloads work without it.",
		"pad.download":           "Download:",
	},
}
