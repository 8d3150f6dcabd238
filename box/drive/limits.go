package drive

// MaxFileSize returns the largest file Upload accepts, in bytes.
func (s *Service) MaxFileSize() int64 { return s.maxFile }

// Quota returns the most the drive may hold, in bytes; 0 means no limit.
func (s *Service) Quota() int64 { return s.quota }
