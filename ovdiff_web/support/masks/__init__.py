"""Support masks in the service: images uploaded with their masks (the CLI's ``<class>/masks/`` layout), a
dataset's ground truth as support images with their exact masks, which foreground a support image uses (given by
the user or proposed by MaskCut) and one thumbnail per proposed mask on the class page."""
