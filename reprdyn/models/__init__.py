"""Model stage: denoisers behind one interface D(x; sigma) -> estimate of x0.

- `networks`: raw networks F(x_in, c_noise) (the paper's MLP, a small U-Net);
- `precond`: the parameterisation wrappers (VP, EDM) and their losses;
- `molrg`: the analytic MoLRG posterior;
- `pretrained`: diffusers UNet, DiT and latent models, and Python plugins;
- `build`: denoisers and losses from spec blocks.

Which kinds exist is the spec's (`reprdyn.spec.kinds`); the noise schedules live in
`reprdyn.maths.schedules`, which the spec reads too. The package
itself imports nothing.
"""
