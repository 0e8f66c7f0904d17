using Microsoft.EntityFrameworkCore.Design;

namespace FleetAspire.Data.SteadyMigrations;

/// <summary>
/// Lets <c>dotnet ef</c> add a steady migration, from the repository root and in the steady build:
/// <c>ExcludeMachineTransition=true dotnet ef migrations add &lt;Name&gt; --project services/Shared/FleetAspire.Data.SteadyMigrations</c>.
/// </summary>
internal sealed class DesignTimeSteadyContextFactory : IDesignTimeDbContextFactory<FleetDbContext>
{
    public FleetDbContext CreateDbContext(string[] args) =>
        new(FleetDbContextOptions.BuildSteady("Host=localhost;Database=fleet_design"));
}
