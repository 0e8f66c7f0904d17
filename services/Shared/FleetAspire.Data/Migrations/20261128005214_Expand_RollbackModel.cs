using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>Leaving MachineOnly in two steps: the stored phase's legacy-model flag, and the audit outcome <c>prepared</c>.</summary>
    public partial class Expand_RollbackModel : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(ContractSql.RollbackModel);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(ContractSql.DropRollbackModel);
    }
}
