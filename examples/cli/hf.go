package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/tinyml"
)

// hfCmd groups the Hugging Face Hub commands.
func (a *app) hfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hf",
		Short: "Hugging Face Hub: download models and datasets into the huggingface_hub cache",
		Long: `Hugging Face Hub commands. They follow huggingface_hub's environment: HF_ENDPOINT,
HF_TOKEN (else the token file of 'hf auth login'), HF_HUB_CACHE or HF_HOME for the cache,
HF_HUB_OFFLINE=1 to use the cache only. Runs take Hub references directly:
hf://namespace/name[@revision][/path] for models, hf://datasets/namespace/name[...] for datasets.`,
	}
	cmd.AddCommand(a.hfDownloadCmd())
	return cmd
}

func (a *app) hfDownloadCmd() *cobra.Command {
	var d tinyml.HubDownload
	var o tinyml.HubOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "download REPO [--revision R] [--file F] [--repo-type model|dataset]",
		Short: "Download a file, or a whole repository, into the huggingface_hub cache and print its local path",
		Long: `Download from the Hugging Face Hub into the huggingface_hub cache (shared with Python tools),
after verifying that the repository can be read, and print the local path as the last line of
stdout. REPO is namespace/name or a reference hf://[datasets/]namespace/name[@revision][/path].
Without --file (or a path in the reference), every file of the repository is downloaded and the
snapshot folder printed. Files already cached for the commit are not downloaded again.`,
		Example: `  tinyml hf download tinyml/digits-cnn --file digits_cnn.onnx
  tinyml hf download tinyml/digits --repo-type dataset --revision v1
  tinyml hf download hf://datasets/tinyml/digits/data/test-00000-of-00001.parquet --json`,
		Args: exactArgs(1, "a repository: namespace/name or hf://..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Repo = args[0]
			f, err := tinyml.DownloadFromHub(cmd.Context(), d, o)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(f)
			}
			what := f.Repo
			if f.RepoType == "dataset" {
				what = "datasets/" + what
			}
			if f.File != "" {
				what += "/" + f.File
			}
			how := "downloaded"
			if f.Cached {
				how = "cached"
			}
			fmt.Fprintf(a.stderr, "%s %s at %s (commit %s)\n", how, what, f.Revision, f.Commit)
			fmt.Fprintln(a.stdout, f.Path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&d.Revision, "revision", "", "branch, tag or commit (default main)")
	fl.StringVar(&d.File, "file", "", "the file to download (default: every file of the repository)")
	fl.StringVar(&d.RepoType, "repo-type", "", "model (default) or dataset")
	fl.StringVar(&o.CacheDir, "cache-dir", "", "the cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	fl.BoolVar(&asJSON, "json", false, `print {"repo","repo_type","revision","commit","file","path","cached"}`)
	return cmd
}
