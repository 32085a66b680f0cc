# The world's classification task in PyTorch, apart from our engine: is the object-centric split learnable at
# all in a CPU budget? ResNet-18 x0.5 (our world model's backbone, standard stem), SGD + one-cycle, flips.
#   /usr/bin/python3 bench/peers/peer_world_classification.py THREADS MODE EPOCHS
#   TRAIN=<world>/teacher_classification HELDOUT=<another seed's world>/teacher_classification VAL=<world>/val
# MODE: "base" (lr 0.01), containing "lr1" (lr 0.1), "jit" (colour jitter + channel shuffle), "crop", "small"
# (3x3 stride-1 stem), "adam" (AdamW 0.002). Prints train / held-out / val top-1 after each epoch.
import os, sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv)>1 else 2)
torch.manual_seed(0)
def load(root):
    xs, ys = [], []
    for line in open(root + '/classification.txt'):
        p, c = line.split(); xs.append(np.asarray(Image.open(root + '/' + p).convert('RGB'))); ys.append(int(c))
    x = torch.tensor(np.stack(xs)).permute(0,3,1,2).float()/255.
    return (x - 0.45)/0.25, torch.tensor(ys)
xtr, ytr = load(os.environ['TRAIN'])
xo, yo = load(os.environ['HELDOUT'])
xv, yv = load(os.environ['VAL'])
class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.c1=nn.Conv2d(i,o,3,st,1,bias=False); s.b1=nn.BatchNorm2d(o); s.c2=nn.Conv2d(o,o,3,1,1,bias=False); s.b2=nn.BatchNorm2d(o)
        s.d = nn.Sequential(nn.Conv2d(i,o,1,st,bias=False), nn.BatchNorm2d(o)) if st!=1 or i!=o else nn.Identity()
    def forward(s,x): return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.d(x))
class Net(nn.Module):
    def __init__(s, w=32, small=False):
        super().__init__()
        s.stem = nn.Sequential(nn.Conv2d(3,w,3,1,1,bias=False), nn.BatchNorm2d(w), nn.ReLU()) if small else nn.Sequential(nn.Conv2d(3,w,7,2,3,bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(3,2,1))
        L=[]; c=w
        for i,o in enumerate([w,2*w,4*w,8*w]):
            L += [Block(c,o,1 if i==0 else 2), Block(o,o,1)]; c=o
        s.layers=nn.Sequential(*L); s.fc=nn.Linear(c,5)
    def forward(s,x): return s.fc(s.layers(s.stem(x)).mean((2,3)))
mode = sys.argv[2] if len(sys.argv)>2 else 'base'
epochs = int(sys.argv[3]) if len(sys.argv)>3 else 8
net = Net(small='small' in mode)
lr = 0.1 if 'lr1' in mode else 0.01
opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4) if 'adam' not in mode else torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.05)
steps = epochs * (len(xtr)//32); sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]['lr'], total_steps=steps, pct_start=0.1)
def aug(x):
    if 'crop' in mode:
        pad = F.pad(x, (8,8,8,8), mode='reflect'); i, j = np.random.randint(0,17,2); x = pad[:,:,i:i+64,j:j+64]
    if 'jit' in mode:
        x = x[:, torch.randperm(3)] if np.random.rand()<1 else x
        x = x * (0.6 + 0.8*torch.rand(x.shape[0],1,1,1)) + 0.5*torch.randn(x.shape[0],1,1,1)
    flip = torch.rand(x.shape[0]) < 0.5
    x = torch.where(flip[:,None,None,None], x.flip(3), x)
    return x
def acc(x, y):
    net.eval()
    with torch.no_grad(): p = torch.cat([net(x[i:i+250]).argmax(1) for i in range(0,len(x),250)])
    net.train(); return (p==y).float().mean().item()*100
t=time.time(); step=0
for ep in range(epochs):
    perm = torch.randperm(len(xtr))
    for b in range(len(xtr)//32):
        idx = perm[b*32:(b+1)*32]
        loss = F.cross_entropy(net(aug(xtr[idx])), ytr[idx])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); step+=1
    print(f'{mode} ep {ep} loss {loss.item():.3f} train {acc(xtr[:500],ytr[:500]):.1f} held-out {acc(xo,yo):.1f} val {acc(xv,yv):.1f} t {time.time()-t:.0f}s', flush=True)
