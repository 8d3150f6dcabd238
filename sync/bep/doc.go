// Package bep is the box's peer in Syncthing's Block Exchange Protocol
// (DESIGN.md §4): it links boxes to each other and to stock Syncthing
// devices, and keeps two folders in step with them.
//
//   - tiersbox-journal holds every origin's journal as segment files,
//     ORIGIN/FIRSTSEQ.tj (ORIGIN is the 64 hex digits of the box's device
//     ID). The files are never written to disk at a box: they are made
//     from the journal when asked for, and a segment that arrives is read
//     frame by frame into the journal. Segment boundaries, sizes, block
//     hashes and version vectors depend only on the entries, so every
//     holder of the same entries announces the same file, and a stock
//     Syncthing keeps them as a normal folder.
//   - tiersbox-drive is the drive's folder on disk, synced as Syncthing
//     syncs any folder: files by blocks, deletions, version vectors and
//     conflict copies.
//
// Only devices that staff linked (sync/link) get past the TLS handshake.
package bep
