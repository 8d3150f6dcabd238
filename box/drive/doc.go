// Package drive keeps the venue's shared documents: photos, PDFs,
// podcasts that visitors add and everyone can read.
//
// # Layout
//
// A file is a plain file in the drive folder (Options.Dir), under its own
// name, in folders at most MaxFolderDepth deep. Box-to-box sync will share
// that folder as it is, with other boxes and with stock Syncthing on any
// system, so names are made safe everywhere (CleanName, CleanFolder).
//
// What is known about a file (its size, SHA-256 and type, the uploader's
// nickname and pseudonym, the licence and description, whether staff hid
// or removed it) is in the journal (DESIGN.md §2), so that sync carries it:
// entries of kinds KindFile, KindRemove, KindHide and KindShow, with target
// TargetPrefix + path and JSON payloads (FilePayload, PathPayload). The
// state derived from them (store.BucketDrive, one record per path) can
// always be rebuilt from the journal (Rebuild). Entries from any number of
// boxes, applied in any order and any number of times, give the same
// state: for each path, the latest file-or-removal entry wins, and the
// latest hide-or-show entry, where latest is the order of (HLC time,
// origin, sequence number) that every box agrees on.
//
// Uploads in progress are written in Options.TmpDir, outside the drive
// folder so that sync never sees them, and thumbnails are kept in
// Options.ThumbDir.
//
// # Crash safety
//
// An upload goes through these steps, and a hard stop at any moment leaves
// neither a partial file in the drive nor an entry naming a file that is
// not there:
//
//  1. the content is streamed to a temporary file in TmpDir, checked
//     against the size limit and the quota as it comes, and synced;
//  2. a free name is reserved, and the intent (temporary file, final
//     path, size, hash) is recorded in store.BucketDriveUploads;
//  3. the file is renamed into the drive folder, and the folder synced;
//  4. the KindFile entry is appended, the derived state updated and the
//     intent deleted, in one bbolt transaction.
//
// New finds any intent left by a crash before step 4 completed: it removes
// the file from the drive folder if it is there (unless an entry names
// that content) and the temporary file, then empties TmpDir. A removal is
// an entry first and a deletion second; New deletes the content of
// removed files a crash left on disk.
//
// Content deleted from disk is always checked against the size and hash
// the journal recorded: the drive folder is shared, and a file sync
// brought before its metadata is never deleted by mistake.
//
// # Files that sync brings
//
// Box-to-box sync writes into the drive folder itself, and tells the
// drive: Received for files it put in place (with the SHA-256 it
// computed as it wrote them), Departed for a file it deleted because a
// peer did. A file whose journal entry has not come, or
// never will (a stock Syncthing has no journal), is still listed, without
// details (File.Arrived): that listing is derived from the folder and
// kept in the file's record in store.BucketDrive, never written to the
// journal, and New and Rebuild scan the folder for files nothing lists.
// When the journal's entry for that content comes, its details take over.
// A file sync deleted that the journal lists gets a KindRemove entry from
// this box. The other way, OnChange tells sync about every file the drive
// itself adds or deletes. Uploads never replace a file: a name taken on
// disk is taken, and the placing of an upload fails rather than replace
// a file that appeared meanwhile (it then takes another name).
//
// # Who may import it
//
// portal and cmd, and sync for entries from other boxes (Apply) and for
// the files it puts in the folder or deletes (Received, Departed,
// OnChange). It does no networking and serves nothing: Open returns a
// file that the portal serves.
package drive
