//! What a wrong password costs an attacker: opening a keystore (Argon2id, 64 MiB, 3 passes) beside a baseline measured in the same run, the BIP-39 seed of a phrase (PBKDF2-HMAC-SHA512, 2048 rounds), which every wallet computes anyway. `./x bench` runs it.

use criterion::{Criterion, criterion_group, criterion_main};
use wallet::{KdfParams, Keystore, Mnemonic, Secret};

fn keystore(c: &mut Criterion) {
    let Ok(mnemonic) = Mnemonic::from_entropy(&[0x42; 16]) else {
        return;
    };
    let secret = Secret::mnemonic(&mnemonic);
    let Ok(account) = secret.account(0) else {
        return;
    };
    let Ok(sealed) = Keystore::seal(
        &secret,
        account.address(),
        "the right password",
        KdfParams::RECOMMENDED,
        [1; 16],
        [2; 24],
    ) else {
        return;
    };
    let mut group = c.benchmark_group("wallet");
    group.sample_size(10);
    group.bench_function("baseline: BIP-39 seed of a phrase", |b| {
        b.iter(|| mnemonic.seed(""))
    });
    group.bench_function("keystore open with a wrong password", |b| {
        b.iter(|| sealed.open("a wrong password").is_err())
    });
    group.finish();
}

criterion_group!(benches, keystore);
criterion_main!(benches);
