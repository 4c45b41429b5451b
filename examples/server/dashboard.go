package main

import (
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"

	"github.com/tinymlaas/tinyml/tinyml"
)

// The dashboard: server-rendered pages over the same studio, for a person with a browser. The
// token is given once as ?token= and kept in an HttpOnly cookie.

const cookieName = "tinyml_token"

func (s *server) browserAuth(w http.ResponseWriter, r *http.Request) bool {
	if c, err := r.Cookie(cookieName); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.token)) == 1 {
		return true
	}
	if t := r.URL.Query().Get("token"); t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1 {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
		return false
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>tinyml studio</title><body style="font:16px system-ui;margin:3em">`+
		`<h1>tinyml studio</h1><p>Open this page with <code>?token=TOKEN</code> (the server's --token) once; a cookie keeps you signed in.</p>`)
	return false
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"ms":  func(v float64) string { return fmt.Sprintf("%.3g ms", v) },
	"kib": func(v int64) string { return fmt.Sprintf("%.1f KiB", float64(v)/1024) },
}).Parse(`
{{define "head"}}<!doctype html><html><head><meta charset="utf-8"><title>{{.}} · tinyml studio</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#14325c;color:#fff;padding:.8em 2em}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:1.5em 2em;max-width:1200px}
table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0002}
th,td{padding:.45em .7em;border-bottom:1px solid #e3e6ea;text-align:left;white-space:nowrap}th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.st{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em}
.pending{background:#eceff3}.running{background:#fff1c2}.generated{background:#d7f5dd}.failed{background:#fbd9d9}.canceled{background:#e5e5e5}
.dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:2px}
.dot.pending{background:#c5ccd6}.dot.running{background:#f2b705}.dot.generated{background:#2e9e4f}.dot.failed{background:#d33}.dot.canceled{background:#888}
.err{color:#a11;white-space:normal;max-width:30em;font-size:.85em}
a{color:#0b5cad}
</style></head><body><header><a href="/">tinyml studio</a></header><main>{{end}}

{{define "home"}}{{template "head" "Projects"}}
<h1>Projects</h1>
{{if .Projects}}<table><tr><th>Project</th><th>Created</th></tr>
{{range .Projects}}<tr><td><a href="/projects/{{.ID}}">{{.Name}}</a></td><td>{{.Created.Format "2006-01-02 15:04"}}</td></tr>{{end}}
</table>{{else}}<p>No projects yet: <code>POST /api/projects</code> or <code>tinyml project create NAME</code>.</p>{{end}}
<h2>Devices</h2><table><tr><th>Name</th><th>Kind</th><th>Arch</th><th class="num">CPUs</th><th class="num">Memory</th><th class="num">Storage</th></tr>
{{range .Devices}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Arch}}</td><td class="num">{{if .CPUs}}{{.CPUs}}{{else}}–{{end}}</td>
<td class="num">{{if .MemoryBytes}}{{kib .MemoryBytes}}{{else}}–{{end}}</td><td class="num">{{if .StorageBytes}}{{kib .StorageBytes}}{{else}}–{{end}}</td></tr>{{end}}
</table></main></body></html>{{end}}

{{define "project"}}{{template "head" .Project.Name}}
{{if .Active}}<meta http-equiv="refresh" content="3">{{end}}
<h1>{{.Project.Name}}</h1>
<p><a href="/api/projects/{{.Project.ID}}/report">Comparison report</a> (plots, Pareto fronts, recommendation){{if .Active}} · refreshing while runs are active{{end}}</p>
<table><tr><th>Run</th><th>Model</th><th>Technique</th><th>Device</th><th>Steps</th><th>Status</th><th class="num">Accuracy</th><th class="num">p50</th><th class="num">Installed</th></tr>
{{range .Runs}}<tr><td>{{.ID}}</td><td>{{.Model}}</td><td>{{.Technique}}</td><td>{{.Device}}</td>
<td>{{range .Steps}}<span class="dot {{.Status}}" title="{{.Name}}: {{.Status}}"></span>{{end}}</td>
<td><span class="st {{.Status}}">{{.Status}}</span>{{with .Err}}<div class="err">{{.}}</div>{{end}}</td>
{{with .Metrics}}<td class="num">{{if .Samples}}{{pct .Accuracy}}{{else}}–{{end}}</td><td class="num">{{if .Samples}}{{ms .Latency.P50}}{{else}}–{{end}}</td><td class="num">{{if .PackedBytes}}{{kib .PackedBytes}}{{else}}–{{end}}</td>
{{else}}<td class="num">–</td><td class="num">–</td><td class="num">–</td>{{end}}</tr>{{end}}
</table></main></body></html>{{end}}
`))

func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	if !s.browserAuth(w, r) {
		return
	}
	ps, err := s.studio.Projects(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ds, err := s.studio.Devices(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "home", map[string]any{"Projects": ps, "Devices": ds})
}

func (s *server) dashboardProject(w http.ResponseWriter, r *http.Request) {
	if !s.browserAuth(w, r) {
		return
	}
	p, err := s.studio.Project(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	runs, err := s.studio.Runs(r.Context(), tinyml.RunFilter{Project: p.ID})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	active := false
	for _, run := range runs {
		active = active || run.Status == tinyml.Running
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "project", map[string]any{"Project": p, "Runs": runs, "Active": active})
}
