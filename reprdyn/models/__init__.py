"""Model stage: denoisers behind one interface D(x; sigma) -> estimate of x0.

- `networks`: raw networks F(x_in, c_noise) (the paper's MLP, a small U-Net);
- `precond`: the parameterisation wrappers (VP, EDM) and their losses;
- `schedules`: sigma <-> timestep (numpy only);
- `molrg`: the analytic MoLRG posterior;
- `pretrained`: diffusers UNet, DiT and latent models, and Python plugins;
- `build`: denoisers and losses from spec blocks; `kinds`: which kinds exist (no torch).

The package itself imports nothing, so `reprdyn.models.kinds` and `reprdyn.models.schedules` stay
free of torch.
"""
