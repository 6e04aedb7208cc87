//! Recovery phrases and derivation checked against the vectors in the BIP-39 and SLIP-0010 specifications, and the accounts a phrase yields.

use types::{Address, SecretKey};
use wallet::{Mnemonic, MnemonicError, Secret, derive};

/// BIP-39's English vectors (entropy, phrase, seed with the passphrase "TREZOR"), from the
/// specification's reference list.
const BIP39: &[(&str, &str, &str)] = &[
    (
        "00000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
    ),
    (
        "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
    ),
    (
        "80808080808080808080808080808080",
        "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
        "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8",
    ),
    (
        "ffffffffffffffffffffffffffffffff",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
        "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
        "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
    ),
];

#[test]
fn bip39_vectors_give_their_phrases_and_seeds() -> anyhow::Result<()> {
    for (entropy, phrase, seed) in BIP39 {
        let made = Mnemonic::from_entropy(&hex::decode(entropy)?)?;
        assert_eq!(made.phrase().as_str(), *phrase);
        let read = Mnemonic::parse(phrase)?;
        assert_eq!(hex::encode(&read.seed("TREZOR")[..]), *seed, "{phrase}");
    }
    Ok(())
}

#[test]
fn phrases_are_read_as_people_type_them_and_refused_with_the_reason() -> anyhow::Result<()> {
    let typed = "  Legal winner THANK year wave sausage\nworth useful legal winner thank yellow ";
    assert_eq!(
        Mnemonic::parse(typed)?.phrase().as_str(),
        BIP39[1].1,
        "spacing and case do not matter"
    );
    // The last word carries the checksum: "about" → "abandon" breaks it.
    let wrong_checksum = "abandon ".repeat(12);
    assert_eq!(
        Mnemonic::parse(&wrong_checksum).map(|_| ()),
        Err(MnemonicError::Checksum)
    );
    assert_eq!(
        Mnemonic::parse("legal winner thank year wave sausage worth useful legal winner thank")
            .map(|_| ()),
        Err(MnemonicError::WordCount(11))
    );
    assert_eq!(
        Mnemonic::parse(
            "legal winner thank year wave sausage worth useful legal winnr thank yellow"
        )
        .map(|_| ()),
        Err(MnemonicError::UnknownWord {
            position: 10,
            word: "winnr".into()
        })
    );
    assert!(
        Mnemonic::parse(&"abandon ".repeat(15)).is_err(),
        "only 12 or 24 words"
    );
    assert_eq!(
        Mnemonic::from_entropy(&[0; 20]).map(|_| ()),
        Err(MnemonicError::Entropy)
    );
    Ok(())
}

/// SLIP-0010's test vectors 1 and 2 for Ed25519: (path, chain code, private key), with the
/// public keys the specification lists for two of them.
#[test]
fn slip10_ed25519_vectors() -> anyhow::Result<()> {
    let vector_1 = hex::decode("000102030405060708090a0b0c0d0e0f")?;
    let cases_1: &[(&[u32], &str, &str)] = &[
        (
            &[],
            "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
            "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
        ),
        (
            &[0],
            "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
            "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
        ),
        (
            &[0, 1],
            "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
            "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
        ),
        (
            &[0, 1, 2],
            "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
            "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
        ),
        (
            &[0, 1, 2, 2],
            "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
            "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
        ),
        (
            &[0, 1, 2, 2, 1_000_000_000],
            "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
            "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
        ),
    ];
    let vector_2 = hex::decode(
        "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
    )?;
    let cases_2: &[(&[u32], &str, &str)] = &[
        (
            &[],
            "ef70a74db9c3a5af931b5fe73ed8e1a53464133654fd55e7a66f8570b8e33c3b",
            "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
        ),
        (
            &[0],
            "0b78a3226f915c082bf118f83618a618ab6dec793752624cbeb622acb562862d",
            "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
        ),
        (
            &[0, 2_147_483_647],
            "138f0b2551bcafeca6ff2aa88ba8ed0ed8de070841f0c4ef0165df8181eaad7f",
            "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
        ),
        (
            &[0, 2_147_483_647, 1],
            "73bd9fff1cfbde33a1b846c27085f711c0fe2d66fd32e139d3ebc28e5a4a6b90",
            "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
        ),
        (
            &[0, 2_147_483_647, 1, 2_147_483_646],
            "0902fe8a29f9140480a00ef244bd183e8a13288e4412d8389d140aac1794825a",
            "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
        ),
        (
            &[0, 2_147_483_647, 1, 2_147_483_646, 2],
            "5d70af781f3a37b829f0d060924d5e960bdc02e85423494afc0b1a41bbe196d4",
            "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
        ),
    ];
    for (seed, cases) in [(&vector_1, cases_1), (&vector_2, cases_2)] {
        let master = derive::master(seed);
        for (path, chain_code, key) in cases {
            let derived = master.derive(path);
            assert_eq!(hex::encode(derived.chain_code), *chain_code, "{path:?}");
            assert_eq!(hex::encode(derived.key), *key, "{path:?}");
        }
    }
    // Public keys as the specification lists them (without its 00 prefix).
    let public = |seed: &[u8], path: &[u32]| {
        SecretKey::from_seed(&derive::master(seed).derive(path).key)
            .public_key()
            .to_hex()
    };
    assert_eq!(
        public(&vector_1, &[]),
        "a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed"
    );
    assert_eq!(
        public(&vector_1, &[0, 1, 2, 2, 1_000_000_000]),
        "3c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a"
    );
    assert_eq!(
        public(&vector_2, &[0, 2_147_483_647, 1, 2_147_483_646, 2]),
        "47150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0"
    );
    Ok(())
}

#[test]
fn a_phrase_yields_distinct_accounts_at_their_path_with_addresses_in_the_shared_format()
-> anyhow::Result<()> {
    let mnemonic = Mnemonic::parse(BIP39[1].1)?;
    let secret = Secret::mnemonic(&mnemonic);
    let first = secret.account(0)?;
    let second = secret.account(1)?;
    assert_ne!(first.address(), second.address());
    assert_eq!(
        derive::path_text(&derive::account_path(1)),
        "m/44'/6174'/1'/0'"
    );
    // The same key as the derivation by hand, and the address of that key.
    let by_hand = derive::master(&mnemonic.seed("")[..]).derive(&[44, 6174, 1, 0]);
    assert_eq!(second.key.seed(), by_hand.key);
    let address = second.address();
    assert_eq!(address, Address::of(&second.public_key()));
    let text = address.to_string();
    assert!(text.starts_with("ait1"), "{text}");
    assert_eq!(text.parse::<Address>().ok(), Some(address));
    // Again from the phrase: the same accounts.
    assert_eq!(
        Secret::mnemonic(&Mnemonic::parse(BIP39[1].1)?)
            .account(1)?
            .address(),
        address
    );
    // An imported key is one account.
    let imported = Secret::key(&SecretKey::from_seed(&[7; 32]));
    assert_eq!(
        imported.account(0)?.address(),
        Address::of(&SecretKey::from_seed(&[7; 32]).public_key())
    );
    assert!(imported.account(1).is_err());
    Ok(())
}
