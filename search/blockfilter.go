package search

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// A block's tokens are split in two by how many distinct values they take.
//
// Words (tokens without digits, and short ones with digits such as "v1",
// "404" or the parts of an IP address) repeat across a day's entries: they
// are a few thousand distinct terms, and Bleve holds each once per block with
// the number of the block's entries holding it. Value tokens (longer tokens
// with a digit: request and trace ids, timestamps, large numbers) are nearly
// unique: as Bleve terms each was a dictionary entry and a postings list of
// its own in every segment, built once and rebuilt by every merge, half of
// what indexing cost. They go into a bloom filter per block instead, which
// costs a few hash probes per token and 20 bits per distinct token.

// maxWordDigitsLen is the longest token with a digit that is still a word.
const maxWordDigitsLen = 3

// isValueToken reports whether tok goes into the block's filter rather than
// Bleve's dictionary. Query and index must agree on it: changing it changes
// what indexed data means (the format version in index.go).
func isValueToken(tok string) bool {
	return len(tok) > maxWordDigitsLen && firstDigit(tok) >= 0
}

// firstDigit returns the index of the first ASCII digit of s, or -1; a
// byte loop, as it runs for every token of every indexed message.
func firstDigit(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i]-'0' < 10 {
			return i
		}
	}
	return -1
}

// valueLead is the part of a value token before its first digit, indexed in
// Bleve (field "l") so that prefix queries, which a filter cannot answer,
// find the blocks whose value tokens may start with the prefix. Tokens that
// start with a digit share the lead noLead.
func valueLead(tok string) string {
	i := firstDigit(tok)
	if i <= 0 {
		return noLead
	}
	return tok[:i]
}

// noLead is the lead of value tokens that start with a digit. A lead never
// holds a digit otherwise, so it cannot collide with a real one.
const noLead = "0"

const (
	// filterBitsPerToken and filterProbes give a false-positive rate of
	// about 0.01% per block at a block's ~250 tokens (14 probes, the best
	// for 20 bits: half the bits set; measured in TestBlockFilter): a
	// search for one request id among the ~47,000 blocks of a 12M-entry
	// day checks some 5 blocks it need not, each a storage read of a
	// block body and a decode of its IDs and a frame of messages. Filters
	// of 16 bits and 11 probes per token, in the plain double hashing of
	// probeBit, erred on 0.07% of such blocks (some 30), which was a third
	// of that search's time, for a fifth fewer filter bytes (2.2 instead
	// of 2.75 bytes per entry on the side-by-side load).
	filterBitsPerToken = 20
	filterProbes       = 14
	// legacyProbes is the probe count of the first filters, which carry
	// none (~0.09%).
	legacyProbes = 6
	// enhancedProbes marks the probe count of a filter whose bits follow
	// enhancedStart and enhancedBit rather than probeBit.
	enhancedProbes = 0x80
)

// blockFilter is a bloom filter of a block's value tokens, as 64-bit words.
type blockFilter []uint64

// newBlockFilter returns an empty filter sized for n distinct tokens.
func newBlockFilter(n int) blockFilter {
	words := (n*filterBitsPerToken + 63) / 64
	return make(blockFilter, max(words, 1))
}

// filterHash is the token's hash, fixed forever: filters are on disk.
func filterHash(tok string) uint64 { return xxhash.Sum64String(tok) }

// probeBit returns the i-th bit of a token of hash h in a filter of m bits
// written before enhancedProbes (double hashing, reduced modulo m).
func probeBit(h, m uint64, i uint64) uint64 {
	return (h&0xffffffff + i*(h>>32|1)) % m
}

// A filter's bits for a token of hash h follow a form of enhanced double
// hashing (Dillinger and Manolios): a cubic term added to a + i·b breaks
// the patterns that plain double hashing (probeBit) repeats in filters of
// a few thousand bits, the size of a block's. As add and mayHoldEncoded
// step it (x += step; step += i, from i = 0), the i-th is
// x_i = a + i·b + i(i−1)(i−2)/6 over 64 bits, mapped onto the m bits by
// a multiplication instead of a division; fixed, as filters are on disk.
// With 20 bits and 14 probes per token, plain double hashing erred on
// 0.020% of tokens absent from a filter of 256, this on 0.012%.
//
// enhancedStart returns x_0 and the step b.
func enhancedStart(h uint64) (x, step uint64) {
	return h, bits.RotateLeft64(h, 32)*0x9e3779b97f4a7c15 | 1
}

// enhancedBit maps x_i onto a filter of m bits.
func enhancedBit(x, m uint64) uint64 {
	hi, _ := bits.Mul64(x, m)
	return hi
}

// add sets the token's bits, given its filterHash.
func (f blockFilter) add(h uint64) {
	m := uint64(len(f)) * 64
	x, step := enhancedStart(h)
	for i := range uint64(filterProbes) {
		bit := enhancedBit(x, m)
		f[bit/64] |= 1 << (bit % 64)
		x += step
		step += i
	}
}

// mayHoldEncoded reports whether the filter of encoded form b (appendTo)
// may hold the token of hash h; false means it surely does not. Searches
// probe filters where they lie in the block list, without decoding them.
func mayHoldEncoded(b []byte, h uint64) bool {
	probes, enhanced := uint64(legacyProbes), false
	if len(b)%8 == 1 {
		c := b[len(b)-1]
		probes, enhanced, b = uint64(c&^enhancedProbes), c&enhancedProbes != 0, b[:len(b)-1]
	}
	m := uint64(len(b)/8) * 64
	if m == 0 || probes == 0 {
		return true // not a filter: cannot rule anything out
	}
	if enhanced {
		x, step := enhancedStart(h)
		for i := range probes {
			bit := enhancedBit(x, m)
			if binary.LittleEndian.Uint64(b[bit/64*8:])&(1<<(bit%64)) == 0 {
				return false
			}
			x += step
			step += i
		}
		return true
	}
	for i := range probes {
		bit := probeBit(h, m, i)
		if binary.LittleEndian.Uint64(b[bit/64*8:])&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// appendTo appends the filter's encoded form: its words, little-endian,
// then a byte with its number of probes, enhancedProbes set (which the
// first filters, with 6, lack: a length that is a multiple of 8 says so;
// the next ones, of 11 probes, have it without that bit).
func (f blockFilter) appendTo(b []byte) []byte {
	for _, w := range f {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return append(b, filterProbes|enhancedProbes)
}
