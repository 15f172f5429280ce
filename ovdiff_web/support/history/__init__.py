"""History pages of a vocabulary and of a class: the audit trail (``accounts.audit``) read as rows a person
understands, with the support-set versions (``support.curation_models``) and the runs that used them."""
