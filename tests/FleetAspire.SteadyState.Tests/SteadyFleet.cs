using FleetAspire.Testing;

namespace FleetAspire.SteadyState.Tests;

/// <summary>
/// The four services on a contracted database. In the steady build every test database is one (TestPostgres);
/// in the normal build this one is, so these tests also run the transition's code in its last phase.
/// </summary>
public sealed class SteadyFleet : FleetAppFixture
{
#if MACHINE_TRANSITION
    protected override Task PrepareDatabaseAsync(string database) => ContractedDatabase.ContractAsync(database);
#endif
}
