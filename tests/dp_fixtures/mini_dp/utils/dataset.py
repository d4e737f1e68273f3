# Synthetic dataset module (test fixture; never run).
class DirectoryDataset:
    def __init__(self, directory_config, dataset_config):
        self.directory_config = directory_config
        self.dataset_config = dataset_config
        directory_config.setdefault('num_repeats', dataset_config.get('num_repeats', 1))
        self.resolutions = directory_config.get('resolutions', dataset_config['resolutions'])
        self.path = self.directory_config['path']
        self.mask = self.directory_config['mask_path'] if 'mask_path' in self.directory_config else None


class Dataset:
    def __init__(self, dataset_config, model):
        self.dataset_config = dataset_config
        self.dirs = []
        for directory_config in dataset_config['directory']:
            self.dirs.append(DirectoryDataset(directory_config, dataset_config))


if __name__ == '__main__':
    # ad-hoc harness: skipped by the audit
    Dataset({'resolutions': [512], 'harness_only': True}, None).dataset_config['harness_only']
