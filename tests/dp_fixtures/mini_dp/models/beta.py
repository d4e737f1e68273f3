# Synthetic model module (test fixture; never run).
from models.base import BasePipeline
from utils.common import get_t_distribution


class BetaPipeline(BasePipeline):
    def __init__(self, config):
        self.config = config
        self.model_config = self.config['model']
        self.dtype = self.model_config['dtype']
        self.load()

    def load(self):
        path = self.model_config['beta_path']
        for te in self.model_config['text_encoders']:
            p = te['path']
            kind = te.get('type', 'clip')
        self.t_dist = get_t_distribution(self.model_config)
        if adapter := self.config.get('adapter'):
            for fuse in adapter.get('fuse_adapters', []):
                print(fuse['path'])
