"""Qt-free dataset core: scan folders, preview buckets, estimate steps per epoch.

* :func:`scan.scan_dataset` / :func:`scan.scan_directory` -> :class:`scan.DatasetScan`
  / :class:`scan.DirectoryScan` with :class:`scan.Problem` records;
* :func:`buckets.dataset_buckets` / :func:`buckets.directory_buckets` ->
  :class:`buckets.DirectoryBuckets` (histogram per resolution);
* :func:`estimate.estimate` / :func:`estimate.estimate_scan` -> :class:`estimate.Estimate`;
* :mod:`video`: PyAV headers (:func:`video.read_header`), the model's frame rate
  (:func:`video.model_framerate`) and diffusion-pipe's video path
  (:func:`video.plan_video`); :mod:`report`: all of it per file
  (:func:`report.dataset_report`, :func:`report.skipped_video_findings`).

May import the config wing and the base modules; never the audit wing beside it or any
wing above (run, monitor, doctor).
"""
from dpgui_qt.core.dataset.scan import (DatasetScan, DirectoryScan, Problem,
                                        directory_settings, scan_dataset, scan_directory)
from dpgui_qt.core.dataset.buckets import (BucketConfig, DirectoryBuckets,
                                           SizeBucket, bucket_config, dataset_buckets,
                                           directory_buckets)
from dpgui_qt.core.dataset.estimate import Estimate, estimate, estimate_scan

__all__ = [
    "DatasetScan", "DirectoryScan", "Problem", "directory_settings", "scan_dataset",
    "scan_directory", "BucketConfig", "DirectoryBuckets", "SizeBucket", "bucket_config",
    "dataset_buckets", "directory_buckets", "Estimate", "estimate", "estimate_scan",
]
