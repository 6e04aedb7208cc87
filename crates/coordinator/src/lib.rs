//! The job coordinator (jobs, miners, matching, receipts, escrow payments, marketplace); no behaviour yet: the coordinator issue fills it in.
