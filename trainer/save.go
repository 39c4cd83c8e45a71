package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sagebrush-ml/sagebrush/algorithms"
)

// tmpPrefix starts the names of the temporary directories Save writes into.
const tmpPrefix = ".tmp-"

// saveModel writes m into R/model atomically: Save writes into a fresh
// directory R/model/.tmp-*, every file is synced, then each entry is
// renamed into R/model and the directory synced. On any failure nothing
// of the new model is left in R/model.
func saveModel(root string, m algorithms.Model, log *logger) error {
	dir := filepath.Join(root, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the model directory: %w", err)
	}
	removeStaleTemps(dir)
	tmp, err := os.MkdirTemp(dir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("creating a temporary model directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	if err := save(m, tmp, log); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("syncing the model files: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var moved []string
	for _, e := range entries {
		dst := filepath.Join(dir, e.Name())
		if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
			for _, p := range moved {
				os.RemoveAll(p)
			}
			return fmt.Errorf("moving the model into place: %w", err)
		}
		moved = append(moved, dst)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("syncing the model directory: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	log.infof("model saved: %s", strings.Join(names, ", "))
	return nil
}

// save calls m.Save, recovering a panic as a *PanicError.
func save(m algorithms.Model, dir string, log *logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := panicError(r)
			log.errorf("%s in Save:\n%s", pe.Error(), pe.Stack)
			err = pe
		}
	}()
	if err := m.Save(dir); err != nil {
		return fmt.Errorf("saving the model: %w", err)
	}
	return nil
}

// removeStaleTemps removes temporary directories left by an earlier,
// killed run, so that they are not uploaded with the model.
func removeStaleTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), tmpPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// syncTree fsyncs every regular file and directory under dir.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return syncDir(path)
		case d.Type().IsRegular():
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		return nil
	})
}

// syncDir fsyncs a directory, so that renames into it are durable. File
// systems that cannot sync a directory are tolerated.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !isEINVAL(err) {
		return err
	}
	return nil
}
