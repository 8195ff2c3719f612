"""One jacnet run on a benchmark table with the validation loss, and the test and training RMSE
after every epoch (diagnosis only: it reads the test split, so nothing is chosen with it).

    .venv/bin/python benchmarks/tabular/curve.py autompg 0 [overrides ...]

On Auto MPG seed 0 the validation loss (47 rows) is lowest at epoch 7 while the test RMSE
keeps falling to epoch ~90 (3.05 -> ~2.9): early stopping on a small validation split is
noisy.
"""
import sys, json, torch, numpy as np, logging  # noqa: E401
sys.path.insert(0,'.')
logging.disable(logging.WARNING)
from tables import TABLES, split
from jacnet_cli.run.configs import compose
from jacnet_cli.run.experiment import Experiment
table, seed = sys.argv[1], int(sys.argv[2]); extra = sys.argv[3:]
t=TABLES[table]
cfg=compose(t.overrides()+["plots=false","progress=false","runtime.threads=1"]+extra+[f"seed={seed}"])
exp=Experiment(cfg,None); exp.build()
sp=split(table,seed); xt=torch.tensor(sp.x_test); xtr=torch.tensor(sp.x_train)
pe=exp.trainer.batches.per_epoch; vals=[]
def cb(step):
    if (step.iteration+1)%pe==0:
        exp.model.eval()
        with torch.no_grad():
            z=exp.model(xt)[:,0].numpy(); ztr=exp.model(xtr)[:,0].numpy()
        exp.model.train()
        vals.append((step.epoch, step.val_loss, float(np.sqrt(np.mean((z-sp.y_test)**2))), float(np.sqrt(np.mean((ztr-sp.y_train)**2)))))
exp.trainer.callback=cb
exp.trainer.run()
print('per_epoch',pe,'best',exp.trainer.best_step)
for v in vals[:40:2]+vals[40::10]: print(v[0], round(v[1],4), 'test', round(v[2],3), 'train', round(v[3],3))
