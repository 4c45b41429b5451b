package tinyml

import (
	"github.com/tinymlaas/tinyml/internal/dataset"
)

// Dataset is a labelled set of samples: N float32 feature arrays of one shape and their class
// labels.
type Dataset struct {
	d *dataset.Dataset
}

// LoadDataset reads a dataset file: CSV (`label,f0,f1,...`, no header), NumPy (x.npy with y.npy
// beside it, or an .npz holding x and y), or a directory holding x.npy and y.npy.
func LoadDataset(path string) (*Dataset, error) {
	d, err := dataset.Load(path)
	if err != nil {
		return nil, err
	}
	return &Dataset{d: d}, nil
}

// Len is the number of samples.
func (d *Dataset) Len() int { return d.d.N }

// SampleShape is the shape of one sample.
func (d *Dataset) SampleShape() []int { return d.d.Shape }

// Sample returns sample i's features (shared, do not modify).
func (d *Dataset) Sample(i int) []float32 { return d.d.Sample(i) }

// Labels returns the class labels, or nil for an unlabelled set.
func (d *Dataset) Labels() []int64 { return d.d.Y }
