package web

func init() { addMessages(formatMessages) }

// formatMessages are how sizes, dates and durations are written in each
// language (formatSize, formatWhen, formatDuration).
var formatMessages = map[string]map[string]string{
	"fr": {
		"format.size.units": "o Ko Mo Go To",
		"format.decimal":    ",",
		"format.when":       "02/01/2006 15:04",
		"format.days":       "%d jours",
		"format.hours":      "%d h",
		"format.minutes":    "%d min",
	},
	"en": {
		"format.size.units": "B KB MB GB TB",
		"format.decimal":    ".",
		"format.when":       "2006-01-02 15:04",
		"format.days":       "%d days",
		"format.hours":      "%d hours",
		"format.minutes":    "%d min",
	},
}
