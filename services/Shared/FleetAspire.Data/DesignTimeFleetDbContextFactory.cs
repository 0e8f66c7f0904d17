using Microsoft.EntityFrameworkCore.Design;

namespace FleetAspire.Data;

/// <summary>Lets <c>dotnet ef</c> build the model without a running database or host.</summary>
internal sealed class DesignTimeFleetDbContextFactory : IDesignTimeDbContextFactory<FleetDbContext>
{
    public FleetDbContext CreateDbContext(string[] args) =>
        new(FleetDbContextOptions.Build("Host=localhost;Database=fleet_design"));
}
