using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <summary>
    /// What the contract needs before it can run: the <c>Contracted</c> phase value, tombstone machines
    /// (<c>destroyed</c>), dirty-row resolutions and the contract's step log. The contract set itself is not here:
    /// the control service applies it on the flip (<see cref="ContractSql"/>).
    /// </summary>
    public partial class Expand_ContractPrerequisites : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("SET LOCAL lock_timeout = '2s';");
            migrationBuilder.Sql(ContractSql.Prerequisites);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql(ContractSql.DropPrerequisites);
    }
}
