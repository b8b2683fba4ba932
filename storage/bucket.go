package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Bucket is a named keyspace for other packages' records (alert rules,
// alert state, the notification outbox), kept in the same database as the
// logs so that one backup holds everything.
type Bucket struct {
	s      *Store
	name   string
	prefix []byte
}

// Bucket returns the bucket with the given name. Names must not contain NUL.
func (s *Store) Bucket(name string) *Bucket {
	return &Bucket{s: s, name: name, prefix: bucketPrefix(name)}
}

func (b *Bucket) key(k string) []byte {
	return append(append(make([]byte, 0, len(b.prefix)+len(k)), b.prefix...), k...)
}

// Get returns the value stored under key, or ErrNotFound.
func (b *Bucket) Get(key string) ([]byte, error) {
	v, err := b.s.getRaw(b.key(key))
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", b.name, key, err)
	}
	return v, nil
}

// Put stores value under key durably.
func (b *Bucket) Put(key string, value []byte) error {
	return b.s.Update(func(w *Writer) error { return w.Put(b, key, value) })
}

// Delete removes key; deleting a missing key is not an error.
func (b *Bucket) Delete(key string) error {
	return b.s.Update(func(w *Writer) error { return w.Delete(b, key) })
}

// Scan calls fn for every key that starts with prefix, in key order. value
// is valid only during the call.
func (b *Bucket) Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	p := b.key(prefix)
	err := b.s.view(func(txn *badger.Txn) error {
		if err := b.s.checkKeys(p); err != nil {
			return err
		}
		return iterate(ctx, txn, p, func(k, v []byte) error {
			return fn(string(k[len(b.prefix):]), v)
		})
	})
	if err != nil {
		return fmt.Errorf("scan %s/%s: %w", b.name, prefix, err)
	}
	return nil
}

// Writer stages writes to several buckets that commit atomically.
type Writer struct{ txn *badger.Txn }

// Put stages a write.
func (w *Writer) Put(b *Bucket, key string, value []byte) error {
	return w.txn.Set(b.key(key), value)
}

// Delete stages a delete.
func (w *Writer) Delete(b *Bucket, key string) error {
	return w.txn.Delete(b.key(key))
}

// Update runs fn and commits its writes atomically and durably; an error
// from fn discards them.
func (s *Store) Update(fn func(w *Writer) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.write(func(txn *badger.Txn) error { return fn(&Writer{txn: txn}) })
	if err != nil {
		return wrapWriteErr("update", err)
	}
	return nil
}

// Meta returns a metadata value (schema version and the like), or
// ErrNotFound.
func (s *Store) Meta(name string) ([]byte, error) {
	v, err := s.getRaw(metaKey(name))
	if err != nil {
		return nil, fmt.Errorf("meta %s: %w", name, err)
	}
	return v, nil
}

// SetMeta stores a metadata value durably.
func (s *Store) SetMeta(name string, value []byte) error {
	if name == seqMetaName {
		return errors.New("BUG: the sequence is the append path's")
	}
	err := s.write(func(txn *badger.Txn) error { return txn.Set(metaKey(name), value) })
	if err != nil {
		return wrapWriteErr("set meta "+name, err)
	}
	return nil
}
