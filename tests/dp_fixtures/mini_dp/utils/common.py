# Synthetic helpers (test fixture; never run).
def get_t_distribution(model_config):
    method = model_config.get('timestep_sample_method', 'logit_normal')
    return method
