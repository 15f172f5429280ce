"""The support-mask editor: a brush / eraser page that corrects one support image's foreground and saves it as a
new support-set version (``service``), its dashboard routes (``views``) and its API action (``api``)."""
