package search

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blevesearch/bleve/v2"

	"github.com/logengine/logengine/storage"
)

// VerifyIndex checks the keyword index in dir (<data-dir>/index) of a
// stopped daemon without changing it: every shard opens read-only, its
// segments match their checksums and its records decode. It returns the
// damaged shards; the daemon rebuilds them from storage when it starts.
func VerifyIndex(dir string) ([]ShardDamage, error) {
	if err := bleveSetup(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil // no index yet: built from storage at start
	}
	if err != nil {
		return nil, fmt.Errorf("verify keyword index: %w", err)
	}
	var damaged []ShardDamage
	for _, e := range entries {
		day, err := storage.ParseDay(e.Name())
		if err != nil || day.String() != e.Name() || !e.IsDir() {
			continue
		}
		if file, err := verifyShard(filepath.Join(dir, e.Name())); err != nil {
			damaged = append(damaged, ShardDamage{Day: day, File: filepath.Join(e.Name(), file), Cause: err.Error()})
		}
	}
	return damaged, nil
}

// verifyShard checks one shard directory and names the damaged file, if
// it can, relative to dir.
func verifyShard(dir string) (file string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	if cause, ok := readDamagedMarker(dir); ok {
		return damagedFileName, fmt.Errorf("marked damaged: %s", cause)
	}
	cfg := openConfig()
	cfg["read_only"] = true
	idx, err := bleve.OpenUsing(dir, cfg)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer func() {
		if cerr := idx.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	if file, err := verifySegments(idx); err != nil {
		return file, err
	}
	for _, key := range []string{seqInternalKey, blocksInternalKey} {
		v, err := idx.GetInternal([]byte(key))
		if err != nil {
			return "store/root.bolt", fmt.Errorf("read record %s: %w", key, err)
		}
		if len(v) == 0 {
			continue
		}
		if _, err := decodeRecord(v); err != nil {
			return "store/root.bolt", fmt.Errorf("record %s: %w", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, blockFileName)); errors.Is(err, os.ErrNotExist) {
		return blockFileName, errors.New("the block list is missing")
	}
	return "", nil
}
