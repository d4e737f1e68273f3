# Synthetic stand-in for diffusion-pipe's train.py (test fixture; never run).
import json
import toml

from utils import dataset as dataset_util
import utils.saver


def set_config_defaults(config):
    assert 'save_every_n_epochs' in config or 'save_every_n_steps' in config
    config.setdefault('pipeline_stages', 1)
    model_config = config['model']
    model_config['dtype'] = str(model_config['dtype'])
    if 'adapter' in config:
        adapter_config = config['adapter']
        if 'alpha' in adapter_config:
            raise NotImplementedError('alpha is forced to rank')
        adapter_config['alpha'] = adapter_config['rank']
        if adapter_config['type'] == 'lora':
            adapter_config.setdefault('dropout', 0.0)
        else:
            raise NotImplementedError(adapter_config['type'])


if __name__ == '__main__':
    with open('config.toml') as f:
        config = json.loads(json.dumps(toml.load(f)))
    set_config_defaults(config)

    model_type = config['model']['type']
    if model_type == 'alpha':
        from models import alpha
        model = alpha.AlphaPipeline(config)
    elif model_type == 'beta' or model_type == 'beta_xl':
        from models import beta
        model = beta.BetaPipeline(config)
    elif model_type in ('gamma', 'gamma_v2'):
        from models import beta
        model = beta.BetaPipeline(config)
    else:
        raise NotImplementedError(model_type)

    with open(config['dataset']) as f:
        dataset_config = toml.load(f)
    train_data = dataset_util.Dataset(dataset_config, model)

    for i, eval_dataset in enumerate(config.get('eval_datasets', [])):
        name = eval_dataset['name']
        with open(eval_dataset['config']) as f:
            eval_dataset_config = toml.load(f)

    epochs = config['epochs']
    lr_scheduler = config.get('lr_scheduler', 'constant')
    if wandb_enable := config.get('monitoring', {}).get('enable_wandb', False):
        key = config['monitoring']['wandb_api_key']

    def get_optimizer(params):
        optim_config = config['optimizer']
        optim_type = optim_config['type']
        optim_type_lower = optim_type.lower()
        if half_life := optim_config.pop('half_life', None):
            print(half_life)
        kwargs = {k: v for k, v in optim_config.items() if k != 'type'}
        if optim_type_lower == 'adamw':
            import torch
            klass = torch.optim.AdamW
        elif optim_type_lower == 'fancy':
            from optimizers import fancy
            klass = fancy.FancyOptim
            kwargs['mpu'] = None
        else:
            import pytorch_optimizer
            klass = getattr(pytorch_optimizer, optim_type)
        for key in ('rank', 'gap'):
            if key in kwargs:
                kwargs.pop(key)
        return klass(params, **kwargs)

    saver = utils.saver.Saver(config, model)
