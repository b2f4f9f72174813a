package trustcaptchatest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The two endpoints the browser widget calls: a verification with a
// proof-of-work challenge, and its solution, which finishes the verification.

// serveCreate is the widget's POST /v2/verifications: it answers with a
// proof-of-work challenge.
func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SiteKey string `json:"siteKey"`
		Widget  struct {
			MinimalDataMode bool `json:"minimalDataMode"`
		} `json:"widget"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request"})
		return
	}
	if !strings.EqualFold(body.SiteKey, s.siteKey) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "captcha not found"})
		return
	}
	id := newUUID()
	tasks := make([]task, s.tasks)
	for i := range tasks {
		in := make([]byte, 16)
		_, _ = rand.Read(in)
		tasks[i] = task{Number: i, Input: base64.StdEncoding.EncodeToString(in)}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.mu.Lock()
	res := s.widget
	res.VerificationID = id
	if res.CaptchaID == "" {
		res.CaptchaID = s.captchaID()
	}
	res.Origin = r.Header.Get("Origin")
	res.MinimalDataModeEnabled = body.Widget.MinimalDataMode
	if !res.MinimalDataModeEnabled {
		res.IPAddress = host
	}
	res.VerificationStartedAt = time.Now().UTC()
	s.remember(id, &entry{result: res, tasks: tasks})
	difficulty := s.difficulty
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"challenge": map[string]any{
		"verificationId": id, "difficulty": difficulty, "tasks": tasks,
	}})
}

// serveChallenge is the widget's POST /v2/verifications/{id}/challenges: it
// checks the proof-of-work and answers with the verification token.
func (s *Server) serveChallenge(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	var body struct {
		Tasks []struct {
			Number int    `json:"number"`
			Nonce  string `json:"nonce"`
		} `json:"tasks"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.tasks == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "verification not found"})
		return
	}
	nonces := map[int]string{}
	for _, t := range body.Tasks {
		nonces[t.Number] = t.Nonce
	}
	for _, t := range e.tasks {
		nonce, ok := nonces[t.Number]
		if !ok || !ProofOfWorkValid(t.Input, nonce, s.difficulty) {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "proof of work wrong"})
			return
		}
	}
	now := time.Now().UTC()
	e.tasks, e.finished = nil, true
	e.result.VerificationFinishedAt = now
	e.result.ResultExpiresAt = now.Add(5 * time.Minute)
	writeJSON(w, http.StatusCreated, map[string]any{"finished": map[string]any{
		"verificationToken": Token(id), "expiresInMs": 5 * 60 * 1000,
	}})
}
