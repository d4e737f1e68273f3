# Synthetic model module (test fixture; never run).
from models.base import BasePipeline


class AlphaPipeline(BasePipeline):
    def __init__(self, config):
        self.config = config
        self.model_config = self.config['model']
        self.dtype = self.model_config['dtype']
        self.path = self.model_config['alpha_path']
        if self.model_config.get('alpha_fast', False):
            self.fast = True
