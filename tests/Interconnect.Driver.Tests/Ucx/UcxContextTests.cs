using Interconnect.Driver.Fabric.Ucx;

namespace Interconnect.Driver.Tests.Ucx;

/// <summary>
/// The context's own tcp segment defaults go in only where UCX may open tcp: a setting no transport takes makes UCX
/// warn at every worker it creates.
/// </summary>
public sealed class UcxContextTests
{
    [TestCase(null, ExpectedResult = true)]
    [TestCase("", ExpectedResult = true)]
    [TestCase("tcp", ExpectedResult = true)]
    [TestCase("sm,tcp", ExpectedResult = true)]
    [TestCase("all", ExpectedResult = true)]
    [TestCase("^rc,ud", ExpectedResult = true)]
    [TestCase("rc,ud", ExpectedResult = false)]
    [TestCase("sm,self", ExpectedResult = false)]
    [TestCase("^tcp", ExpectedResult = false)]
    [TestCase("^sm,tcp", ExpectedResult = false)]
    public bool ShouldSetTcpSegmentsOnlyWhenTcpMayBeOpened(string? transports) => UcxContext.MayUseTcp(transports);

    [Test]
    public void ShouldKeepTheReceiveSegmentAtLeastTheSendSegment()
    {
        // UCX refuses a tcp interface whose send segment is larger than its receive segment.
        var defaults = UcxContext.TcpSegmentDefaults.ToDictionary(d => d.Key, d => d.Value);

        Assert.That(Kibibytes(defaults["UCX_TCP_RX_SEG_SIZE"]), Is.GreaterThanOrEqualTo(Kibibytes(defaults["UCX_TCP_TX_SEG_SIZE"])));
        Assert.That(Kibibytes(defaults["UCX_TCP_TX_SEG_SIZE"]), Is.GreaterThan(64), "a 64 KiB write and its headers fit one send segment");
    }

    private static int Kibibytes(string size) =>
        size.EndsWith('K') ? int.Parse(size[..^1], System.Globalization.CultureInfo.InvariantCulture) : throw new FormatException(size);
}
