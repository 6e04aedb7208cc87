//! The marketplace on both databases: GPUs listed by registered miners and booked by one client at a time (the miner then runs only that client's jobs) until released or over, reviews only from those who booked, prices by model; offers that follow live miners, and bids decided by their provider.

use std::time::Duration;

use coordinator::{Error, SubmitJob, market::NewGpu};
use serde_json::json;

use crate::db::{Clock, TestMiner, both, coordinator};

fn gpu(name: &str, price_per_hour: f64, models: &[&str]) -> NewGpu {
    serde_json::from_value(json!({
        "name": name, "memory": 24, "region": "eu-west",
        "price_per_hour": price_per_hour, "capabilities": models,
    }))
    .expect("gpu")
}

fn job(prompt: &str) -> SubmitJob {
    serde_json::from_value(json!({ "payload": { "prompt": prompt } })).expect("job")
}

#[tokio::test]
async fn a_booked_gpu_serves_only_its_client_until_released() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        let miner = TestMiner::new("miner-a", 1);
        coord
            .register(
                &miner.id,
                miner.registration("RTX 4090", &["llama3"], 20_000),
            )
            .await?;
        assert!(matches!(
            coord.register_gpu("ghost", gpu("A100", 1.0, &[])).await,
            Err(Error::NotFound(_))
        ));
        let listed = coord
            .register_gpu("miner-a", gpu("RTX 4090", 0.5, &["llama3-8b"]))
            .await?;
        assert_eq!(
            (listed.status, listed.price_per_hour_base_units),
            ("available", 500_000)
        );

        let booking = coord.book("alice", &listed.id, 2.0, None).await?;
        assert_eq!(booking.total_cost_base_units, 1_000_000, "{}", db.name);
        assert_eq!(coord.gpu(&listed.id).await?.status, "booked");
        assert!(matches!(
            coord.book("bob", &listed.id, 1.0, None).await,
            Err(Error::Conflict(_))
        ));
        // The booking holds the miner: its other GPU is booked too.
        let second = coord
            .register_gpu("miner-a", gpu("RTX 4090", 0.5, &[]))
            .await?;
        assert_eq!(coord.gpu(&second.id).await?.status, "booked");
        assert!(matches!(
            coord.book("bob", &second.id, 1.0, None).await,
            Err(Error::Conflict(_))
        ));

        // Bob's job came first, but the booked miner runs Alice's.
        let bobs = coord.submit("bob", job("bob's"), None).await?;
        let alices = coord.submit("alice", job("alice's"), None).await?;
        let taken = coord.poll("miner-a", Duration::ZERO).await?.expect("a job");
        assert_eq!(taken.job_id, alices.id, "{}", db.name);
        assert_eq!(
            coord.poll("miner-a", Duration::ZERO).await?,
            None,
            "{}",
            db.name
        );

        // Only those who booked review; a second review replaces the first.
        assert!(matches!(
            coord.review("bob", &listed.id, 1, "never used it").await,
            Err(Error::Forbidden(_))
        ));
        coord.review("alice", &listed.id, 2, "slow").await?;
        let reviewed = coord.review("alice", &listed.id, 4, "fast").await?;
        assert_eq!((reviewed.average_rating, reviewed.total_reviews), (4.0, 1));

        assert!(matches!(
            coord.release_gpu("bob", &listed.id).await,
            Err(Error::Conflict(_))
        ));
        let released = coord.release_gpu("alice", &listed.id).await?;
        assert_eq!(released.status, "released");
        assert_eq!(coord.gpu(&listed.id).await?.status, "available");
        let taken = coord
            .poll("miner-a", Duration::ZERO)
            .await?
            .expect("bob's job");
        assert_eq!(taken.job_id, bobs.id, "{}", db.name);

        // A booking runs its time and ends by itself.
        coord.book("carol", &listed.id, 1.0, None).await?;
        clock.advance(3_600_001);
        assert_eq!(coord.gpu(&listed.id).await?.status, "available");
        let orders = coord.orders("carol", None, 10).await?;
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].status, "ended", "{}", db.name);
        assert_eq!(coord.orders("alice", Some("released"), 10).await?.len(), 1);

        let pricing = coord.pricing("LLAMA3").await?;
        assert_eq!(pricing["recommended_gpu"], listed.id.as_str());
        assert_eq!(pricing["min_price"], 0.5);
        assert!(matches!(
            coord.pricing("sdxl").await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            coord.book("alice", &listed.id, 0.0, None).await,
            Err(Error::Invalid {
                field: "duration_hours",
                ..
            })
        ));
    }
    Ok(())
}

#[tokio::test]
async fn offers_follow_live_miners_and_bids_are_decided_by_their_provider() -> anyhow::Result<()> {
    for db in both().await {
        let clock = Clock::new();
        let coord = coordinator(&db, &clock).await;
        for (id, seed) in [("miner-a", 1), ("miner-b", 2)] {
            let miner = TestMiner::new(id, seed);
            coord
                .register(
                    &miner.id,
                    miner.registration("RTX 4090", &["llama3"], 20_000),
                )
                .await?;
        }
        let offers = coord.offers(None, false).await?;
        let derived = offers
            .iter()
            .find(|o| o["id"] == "miner_miner-a")
            .expect("an offer for the online miner");
        assert_eq!(
            derived["price_per_hour"], 72.0,
            "20,000 base units a second"
        );
        assert_eq!(derived["status"], "open");
        coord
            .create_offer(
                "miner-a",
                serde_json::from_value(json!({ "capacity": 2, "price": 0.25 }))?,
            )
            .await?;
        assert_eq!(coord.offers(None, false).await?.len(), 3);
        assert_eq!(coord.offers(None, true).await?.len(), 2);
        assert!(matches!(
            coord.offers(Some("sold"), false).await,
            Err(Error::Invalid {
                field: "status",
                ..
            })
        ));

        let bid = coord
            .create_bid(
                "alice",
                serde_json::from_value(
                    json!({ "provider": "miner-a", "capacity": 1, "price": 0.3 }),
                )?,
            )
            .await?;
        assert_eq!(coord.market_stats().await?["activeBids"], 1);
        assert!(matches!(
            coord.decide_bid("miner-b", &bid, true).await,
            Err(Error::Forbidden(_))
        ));
        let accepted = coord.decide_bid("miner-a", &bid, true).await?;
        assert_eq!(accepted["status"], "accepted");
        assert!(
            !accepted.to_string().contains("alice"),
            "bids do not name clients"
        );
        assert!(matches!(
            coord.decide_bid("miner-a", &bid, false).await,
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            coord
                .create_bid(
                    "alice",
                    serde_json::from_value(json!({ "capacity": 1, "price": 0.0000001 }))?
                )
                .await,
            Err(Error::Invalid { field: "price", .. })
        ));

        // Silent miners drop out of the derived offers.
        clock.advance(31_000);
        coord.sweep().await?;
        assert_eq!(coord.offers(None, true).await?.len(), 0, "{}", db.name);
    }
    Ok(())
}
