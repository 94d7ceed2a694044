// sim-tokenizer stands in for llm-d's Python "UDS tokenizer" sidecar so that llm-d's Go EPP
// (llm-d-inference-scheduler v0.7.1 + llm-d-kv-cache v0.9.0) can run its precise-prefix-cache
// scorer against llm-d-inference-sim model servers offline.
//
// It serves the sidecar's gRPC service (tokenization.TokenizationService, from the kv-cache
// module's api/tokenizerpb) and tokenizes with the simulator's own dummy tokenizer package
// (what `llm-d-inference-sim --force-dummy-tokenizer` uses), so the token ids the EPP hashes are
// the ids the simulators put into their KV events:
//   - RenderCompletion(prompt)      -> SimpleTokenizer.RenderText(prompt)
//   - RenderChatCompletion(msgs)    -> SimpleTokenizer.RenderMessages(msgs) ("### role: text\n"…)
//   - Tokenize(input)               -> RenderText(input) with character offsets
//   - RenderChatTemplate(turns)     -> the same "### role: text\n" text, as a string
//   - InitializeTokenizer(model)    -> success for any model name
//
// Listens on TCP (--listen 127.0.0.1:PORT, for the EPP's `uds: {socketFile: host:port,
// useTCP: true}`) or on a Unix socket (--listen unix:///path). Loopback only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/llm-d/llm-d-inference-sim/pkg/api"
	simtok "github.com/llm-d/llm-d-inference-sim/pkg/tokenizer"
	tokenizerpb "github.com/llm-d/llm-d-kv-cache/api/tokenizerpb"
	"google.golang.org/grpc"
)

type server struct {
	tokenizerpb.UnimplementedTokenizationServiceServer
	tk    *simtok.SimpleTokenizer
	calls atomic.Int64
	debug bool
}

// toSimMessages converts the sidecar protocol's chat messages into the simulator's api.Message
// (through JSON, so the simulator's own content decoding applies).
func toSimMessages(msgs []*tokenizerpb.ChatMessage) ([]api.Message, error) {
	out := make([]api.Message, 0, len(msgs))
	for _, m := range msgs {
		raw := map[string]any{"role": m.GetRole()}
		switch {
		case m.Content != nil:
			raw["content"] = m.GetContent()
		case len(m.GetContentParts()) > 0:
			parts := make([]map[string]any, 0, len(m.GetContentParts()))
			for _, p := range m.GetContentParts() {
				part := map[string]any{"type": p.GetType()}
				if p.Text != nil {
					part["text"] = p.GetText()
				}
				if p.ImageUrl != nil {
					part["image_url"] = map[string]any{"url": p.GetImageUrl().GetUrl()}
				}
				parts = append(parts, part)
			}
			raw["content"] = parts
		}
		if m.ToolCallsJson != nil {
			var calls any
			if err := json.Unmarshal([]byte(m.GetToolCallsJson()), &calls); err == nil {
				raw["tool_calls"] = calls
			}
		}
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		var msg api.Message
		if err := json.Unmarshal(b, &msg); err != nil {
			return nil, fmt.Errorf("message %q: %w", b, err)
		}
		out = append(out, msg)
	}
	return out, nil
}

func (s *server) InitializeTokenizer(_ context.Context, r *tokenizerpb.InitializeTokenizerRequest) (*tokenizerpb.InitializeTokenizerResponse, error) {
	log.Printf("InitializeTokenizer model=%q", r.GetModelName())
	return &tokenizerpb.InitializeTokenizerResponse{Success: true}, nil
}

func (s *server) RenderCompletion(_ context.Context, r *tokenizerpb.RenderCompletionRequest) (*tokenizerpb.RenderCompletionResponse, error) {
	s.calls.Add(1)
	ids, _, err := s.tk.RenderText(r.GetPrompt())
	if err != nil {
		return &tokenizerpb.RenderCompletionResponse{ErrorMessage: err.Error()}, nil
	}
	if s.debug {
		log.Printf("RenderCompletion model=%q tokens=%d", r.GetModelName(), len(ids))
	}
	return &tokenizerpb.RenderCompletionResponse{TokenIds: ids, Success: true}, nil
}

func (s *server) RenderChatCompletion(_ context.Context, r *tokenizerpb.RenderChatCompletionRequest) (*tokenizerpb.RenderChatCompletionResponse, error) {
	s.calls.Add(1)
	msgs, err := toSimMessages(r.GetMessages())
	if err != nil {
		return &tokenizerpb.RenderChatCompletionResponse{ErrorMessage: err.Error()}, nil
	}
	ids, _, _, err := s.tk.RenderMessages(msgs)
	if err != nil {
		return &tokenizerpb.RenderChatCompletionResponse{ErrorMessage: err.Error()}, nil
	}
	if s.debug {
		log.Printf("RenderChatCompletion model=%q messages=%d tokens=%d", r.GetModelName(), len(msgs), len(ids))
	}
	return &tokenizerpb.RenderChatCompletionResponse{TokenIds: ids, Success: true}, nil
}

func (s *server) Tokenize(_ context.Context, r *tokenizerpb.TokenizeRequest) (*tokenizerpb.TokenizeResponse, error) {
	s.calls.Add(1)
	ids, pieces, err := s.tk.RenderText(r.GetInput())
	if err != nil {
		return &tokenizerpb.TokenizeResponse{ErrorMessage: err.Error()}, nil
	}
	offsets := make([]uint32, 0, 2*len(pieces))
	pos := 0
	for _, p := range pieces {
		start := strings.Index(r.GetInput()[pos:], p)
		if start < 0 {
			start = 0
		}
		start += pos
		offsets = append(offsets, uint32(start), uint32(start+len(p)))
		pos = start + len(p)
	}
	return &tokenizerpb.TokenizeResponse{InputIds: ids, OffsetPairs: offsets, Success: true}, nil
}

func (s *server) RenderChatTemplate(_ context.Context, r *tokenizerpb.ChatTemplateRequest) (*tokenizerpb.ChatTemplateResponse, error) {
	var b strings.Builder
	for _, turn := range r.GetConversationTurns() {
		msgs, err := toSimMessages(turn.GetMessages())
		if err != nil {
			return &tokenizerpb.ChatTemplateResponse{ErrorMessage: err.Error()}, nil
		}
		for i := range msgs {
			b.WriteString(api.StartMessageSeparator)
			b.WriteString(msgs[i].PlainText(true))
			b.WriteString(api.EndMessageSeparator)
		}
	}
	return &tokenizerpb.ChatTemplateResponse{RenderedPrompt: b.String(), Success: true}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "host:port (TCP) or unix:///path/to.socket")
	debug := flag.Bool("debug", false, "log every render call")
	flag.Parse()

	var lis net.Listener
	var err error
	if path, ok := strings.CutPrefix(*listen, "unix://"); ok {
		_ = os.Remove(path)
		lis, err = net.Listen("unix", path)
	} else {
		lis, err = net.Listen("tcp", *listen)
	}
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(100<<20), grpc.MaxSendMsgSize(100<<20))
	s := &server{tk: simtok.NewSimpleTokenizer(), debug: *debug}
	tokenizerpb.RegisterTokenizationServiceServer(srv, s)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		log.Printf("stopping after %d render calls", s.calls.Load())
		srv.GracefulStop()
	}()
	log.Printf("sim-tokenizer: TokenizationService on %s (llm-d-inference-sim dummy tokenizer)", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
