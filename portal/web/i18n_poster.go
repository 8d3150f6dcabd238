package web

// The poster's texts. Keys under poster.p. are printed on the poster, in
// every language at once; the others are the staff page around it.
func init() {
	addMessages(map[string]map[string]string{
		"fr": {
			"admin.link.poster": "Imprimer l’affiche du lieu (WiFi et adresse de la box)",
			"poster.title":      "Affiche à imprimer",
			"poster.back":       "Retour à l’espace de l’équipe",
			"poster.intro":      "Imprimez cette page sur une feuille A4 (menu Imprimer du navigateur, ou Ctrl+P) et affichez-la dans le lieu : les visiteurs y trouvent comment rejoindre le WiFi et ouvrir la box. L’affiche est en français puis en anglais, quelle que soit la langue de cette page ; le reste de la page ne s’imprime pas.",
			"poster.secret":     "L’affiche montre le mot de passe du WiFi en clair : toute personne qui la voit peut rejoindre le réseau.",
			"poster.nowifi":     "Cette box n’ouvre pas son propre WiFi (elle est branchée sur le réseau du lieu) : l’affiche ne donne que l’adresse de la box. Indiquez à côté comment rejoindre le WiFi du lieu.",
			"poster.preview":    "L’affiche",
			"poster.p.welcome":  "Bienvenue ! Des notes écrites à plusieurs, des salons de discussion et des documents partagés, sans compte et sans internet.",
			"poster.p.join":     "Rejoignez le WiFi",
			"poster.p.scan":     "Scannez ce code avec l’appareil photo du téléphone, ou choisissez ce réseau dans les réglages WiFi.",
			"poster.p.network":  "Réseau",
			"poster.p.password": "Mot de passe",
			"poster.p.open":     "Réseau ouvert : pas de mot de passe",
			"poster.p.portal":   "Ouvrez la box",
			"poster.p.browse":   "Scannez ce code, ou tapez dans le navigateur :",
			"poster.p.offline":  "Pas d’internet sur ce WiFi : c’est normal, tout se passe sur la box. Restez connecté·e.",
		},
		"en": {
			"admin.link.poster": "Print the venue's poster (WiFi and the box's address)",
			"poster.title":      "Printable poster",
			"poster.back":       "Back to the staff area",
			"poster.intro":      "Print this page on an A4 sheet (the browser's Print menu, or Ctrl+P) and put it up in the venue: visitors find on it how to join the WiFi and open the box. The poster is in French then English, whatever the language of this page; the rest of the page is not printed.",
			"poster.secret":     "The poster shows the WiFi passphrase in clear: anyone who sees it can join the network.",
			"poster.nowifi":     "This box does not open its own WiFi (it is plugged into the venue's network): the poster only gives the box's address. Say beside it how to join the venue's WiFi.",
			"poster.preview":    "The poster",
			"poster.p.welcome":  "Welcome! Notes written together, chat rooms and shared documents, with no account and no internet.",
			"poster.p.join":     "Join the WiFi",
			"poster.p.scan":     "Scan this code with your phone's camera, or pick this network in the WiFi settings.",
			"poster.p.network":  "Network",
			"poster.p.password": "Password",
			"poster.p.open":     "Open network: no password",
			"poster.p.portal":   "Open the box",
			"poster.p.browse":   "Scan this code, or type in your browser:",
			"poster.p.offline":  "No internet on this WiFi: that is normal, everything happens on the box. Stay connected.",
		},
	})
}
