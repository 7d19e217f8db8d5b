// Package campaigntest holds what tests of the campaign package's
// extension points need: TestFrequencyStore, the conformance suite that
// every campaign.FrequencyStore must pass (the package's in-memory store
// and the Redis adapter's run it).
package campaigntest
