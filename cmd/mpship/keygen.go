package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpship/mpship/manifests"
)

// Key file names written by 'mpship keygen' in its --out directory.
const (
	privateKeyFile = "signing.key"
	publicKeyFile  = "signing.pub"
)

// keygenOptions are the flags of 'mpship keygen'.
type keygenOptions struct {
	out   string
	force bool
	json  bool
}

// AddFlags registers the options' flags on fs.
func (o *keygenOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.out, "out", "", "directory to write signing.key and signing.pub to (required; created if missing)")
	fs.BoolVar(&o.force, "force", false, "replace an existing key pair")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

func newKeygenCmd() *cobra.Command {
	opts := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen --out DIR",
		Short: "Make an Ed25519 signing key pair for releases",
		Long: `Make an Ed25519 key pair: DIR/signing.key (PKCS #8 PEM, mode 0600) signs
releases ('mpship release --key'); DIR/signing.pub (PKIX PEM, mode 0644) is
what devices and 'mpship verify --trust' trust. Prints the key id, the sha256
of the raw public key, which signatures carry.

An existing key pair is never replaced unless --force is given: devices that
trust the old public key refuse releases signed by a new one.

Exit status: 0 on success, 1 on failure, 2 for bad flags.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeygen(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runKeygen(_ context.Context, opts *keygenOptions, out io.Writer) error {
	if opts.out == "" {
		return usageError{errors.New("keygen: --out DIR is required")}
	}
	priv := filepath.Join(opts.out, privateKeyFile)
	pub := filepath.Join(opts.out, publicKeyFile)
	if !opts.force {
		for _, p := range []string{priv, pub} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("keygen: %s already exists; devices trusting it would refuse releases signed by a new key: pass --force to replace it anyway, or another --out", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("keygen: %w", err)
			}
		}
	}
	pubKey, privKey, err := manifests.GenerateKey(nil)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	privPEM, err := manifests.MarshalPrivateKey(privKey)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	pubPEM, err := manifests.MarshalPublicKey(pubKey)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := os.MkdirAll(opts.out, 0o700); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := writeFileAtomic(priv, privPEM, 0o600); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := writeFileAtomic(pub, pubPEM, 0o644); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	id := manifests.KeyID(pubKey)
	if opts.json {
		return writeJSON(out, "keygen", struct {
			KeyID      string `json:"key_id"`
			PrivateKey string `json:"private_key"`
			PublicKey  string `json:"public_key"`
		}{id, priv, pub})
	}
	fmt.Fprintf(out, "key id %s\n", id)
	fmt.Fprintf(out, "  %s: private; keep it secret, off devices and out of version control\n", priv)
	fmt.Fprintf(out, "  %s: public; give it to devices and to 'mpship verify --trust'\n", pub)
	return nil
}

// writeFileAtomic writes data to path with mode perm: a temporary file in
// the same directory, fsync, rename, fsync of the directory. A reader never
// sees a partial file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadSigners reads PEM private keys (signing.key files).
func loadSigners(files []string) ([]*manifests.Signer, error) {
	var signers []*manifests.Signer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read signing key: %w", err)
		}
		k, err := manifests.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", f, err)
		}
		signers = append(signers, manifests.NewSigner(k))
	}
	return signers, nil
}

// loadTrust reads PEM public keys (signing.pub files) and builds a trust
// set needing threshold distinct keys.
func loadTrust(files []string, threshold int) (*manifests.Trust, error) {
	keys := make([]ed25519.PublicKey, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read trusted key: %w", err)
		}
		k, err := manifests.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("trusted key %s: %w", f, err)
		}
		keys = append(keys, k)
	}
	t, err := manifests.NewTrust(threshold, keys...)
	if err != nil {
		return nil, fmt.Errorf("%w (pass --threshold at most the number of distinct --trust keys)", err)
	}
	return t, nil
}

// noArgs is cobra.NoArgs as a usage error (exit status 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// writeJSON prints v as one indented JSON object.
func writeJSON(out io.Writer, verb string, v any) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("%s: write JSON: %w", verb, err)
	}
	return nil
}
