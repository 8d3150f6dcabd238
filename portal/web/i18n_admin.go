package web

// The staff pages' texts.
func init() {
	addMessages(map[string]map[string]string{
		"fr": {
			"admin.login.title":      "Espace de l’équipe",
			"admin.login.intro":      "Cet espace permet à l’équipe du lieu de s’occuper de la box. Les visiteurs n’en ont pas besoin.",
			"admin.password":         "Mot de passe de l’équipe",
			"admin.login.button":     "Se connecter",
			"admin.login.forgot":     "Mot de passe oublié ? Sur la box, lancez « tiersbox admin-password » pour en choisir un nouveau.",
			"admin.home.title":       "Espace de l’équipe",
			"admin.home.intro":       "Vous êtes connecté·e comme membre de l’équipe.",
			"admin.home.links":       "Ce que vous pouvez faire",
			"admin.home.none":        "Rien à gérer pour l’instant.",
			"admin.link.pads":        "Voir les pads",
			"admin.link.chat":        "Voir la discussion",
			"admin.link.drive":       "Voir les documents",
			"admin.logout":           "Se déconnecter",
			"admin.logout.hint":      "Déconnectez-vous en partant, surtout sur un appareil partagé. Sans activité, la session se termine d’elle-même au bout de 12 heures.",
			"admin.error.wrong":      "Ce mot de passe n’est pas le bon.",
			"admin.error.wait":       "Trop d’essais manqués depuis cet appareil. Réessayez dans %d s.",
			"admin.error.nopassword": "Aucun mot de passe d’équipe n’est encore défini sur cette box. Sur la box, lancez « tiersbox init » pour l’installer, ou « tiersbox admin-password » pour choisir un mot de passe.",
			"admin.error.staffonly":  "Cette page est réservée à l’équipe du lieu. Connectez-vous sur /admin puis recommencez.",
		},
		"en": {
			"admin.login.title":      "Staff area",
			"admin.login.intro":      "This area lets the venue's staff look after the box. Visitors do not need it.",
			"admin.password":         "Staff password",
			"admin.login.button":     "Log in",
			"admin.login.forgot":     "Forgot the password? On the box, run “tiersbox admin-password” to choose a new one.",
			"admin.home.title":       "Staff area",
			"admin.home.intro":       "You are logged in as staff.",
			"admin.home.links":       "What you can do",
			"admin.home.none":        "Nothing to look after yet.",
			"admin.link.pads":        "See the pads",
			"admin.link.chat":        "See the chat",
			"admin.link.drive":       "See the documents",
			"admin.logout":           "Log out",
			"admin.logout.hint":      "Log out when you leave, above all on a shared device. Left idle, the session ends by itself after 12 hours.",
			"admin.error.wrong":      "That is not the right password.",
			"admin.error.wait":       "Too many failed attempts from this device. Try again in %d s.",
			"admin.error.nopassword": "No staff password is set on this box yet. On the box, run “tiersbox init” to set it up, or “tiersbox admin-password” to choose a password.",
			"admin.error.staffonly":  "This page is for the venue's staff only. Log in at /admin, then try again.",
		},
	})
}
