"""Stand-in for CutLER's ``config.add_cutler_config`` (``cutler/config/cutler_config.py:13-14``): the two
ROI-head keys CutLER adds that its model reads at construction."""


def add_cutler_config(cfg) -> None:
    cfg.MODEL.ROI_HEADS.USE_DROPLOSS = False
    cfg.MODEL.ROI_HEADS.DROPLOSS_IOU_THRESH = 0.0
