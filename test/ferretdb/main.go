// Command ferretdb-harness runs an embedded FerretDB 1.x for the test suite.
//
// It listens on 127.0.0.1 on the port it is given (0 picks a free one), prints
// one line "READY mongodb://127.0.0.1:PORT/" on stdout once it accepts
// connections, and stops cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: a free one)")
	handler := flag.String("handler", "postgresql", "backend: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", "postgres://127.0.0.1:5432/ferretdb", "PostgreSQL URL")
	sqliteURL := flag.String("sqlite-url", "file:./data/", "SQLite directory URL")
	flag.Parse()

	if *handler == "postgresql" {
		if err := ensureDatabase(*pgURL); err != nil {
			log.Fatalf("postgresql: %v", err)
		}
	}

	addr, err := pickAddr(*port)
	if err != nil {
		log.Fatalf("listen address: %v", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: addr},
		Handler:       *handler,
		PostgreSQLURL: *pgURL,
		SQLiteURL:     *sqliteURL,
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	if err := waitForPort(ctx, addr, 30*time.Second); err != nil {
		log.Fatalf("ferretdb did not start: %v", err)
	}
	fmt.Printf("READY %s\n", f.MongoDBURI())

	if err := <-done; err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb stopped: %v", err)
	}
}

// ensureDatabase creates the database that pgURL names when it does not exist yet.
func ensureDatabase(pgURL string) error {
	cfg, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	return err
}

// pickAddr returns 127.0.0.1:port, asking the kernel for a free port when port is 0.
func pickAddr(port int) (string, error) {
	if port != 0 {
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitForPort(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
