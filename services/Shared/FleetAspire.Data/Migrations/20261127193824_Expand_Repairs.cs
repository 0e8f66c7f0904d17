using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>The audit of applied repairs. Dropped by the contract.</summary>
    public partial class Expand_Repairs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(MachineTransitionSql.Repairs);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(MachineTransitionSql.DropRepairs);
    }
}
