namespace Interconnect.Imc.Native.Tests;

/// <summary>
/// A C program and a .NET program on two hosts share a region (direct: made by the C program) and a lock set, with
/// the manual's Example 10-5 counting itself in under the lock; and what a direct region cannot honour is refused.
/// </summary>
public sealed class SharingTests : NativeTest
{
    private const string Hold = "tests/Interconnect.Imc.Native.Tests/c/imc_hold.c";
    private const string Ex5 = "examples/c/mc_ex5.c";

    [Test]
    public void ShouldShareARegionAndALockSetBetweenCAndDotnetOnTwoHosts()
    {
        var holder = Start(Hold, "alpha", "123"); // a C program on alpha: region 123, its count at 1
        holder.WaitForLine("holding");

        var beta = Cluster.Open("beta");
        var region = beta.AllocateRegion(123, 8192, ImcPermissions.UserReadWrite | ImcPermissions.GroupReadWrite);
        var rx = region.AttachReceive();
        Assert.That(rx.Read<int>(0), Is.EqualTo(1), "the C program's plain store, read by .NET on another host");

        Assert.That(beta.TryCreateLockSet(456, 4, ImcLockPermissions.User, out var locks), Is.True);
        var tx = region.AttachTransmit(flags: ImcAttachFlags.Loopback);
        tx.Write(0, rx.Read<int>(0) + 1);
        WaitUntil(() => rx.Read<int>(0) == 2, "the .NET write to come back");

        var ex5 = Start(Ex5, "alpha"); // IMC_EXISTS: it allocates the set and waits for lock 0, which beta holds
        WaitUntil(() => ex5.HasExited || File.ReadAllText($"/proc/{ex5.Pid}/maps").Contains("libimc.so", StringComparison.Ordinal), "mc_ex5 to start");
        Assert.That(rx.Read<int>(0), Is.EqualTo(2), "mc_ex5 must not count itself in before it has the lock");

        locks!.Release(0);
        Assert.That(ex5.WaitForExit(), Is.Zero, ex5.Transcript);
        WaitUntil(() => rx.Read<int>(0) == 3, "mc_ex5's count (2 + 1) to arrive");
        locks.Acquire(0); // mc_ex5 released it
        locks.Release(0);

        holder.WriteLine("count?");
        Assert.That(holder.WaitForLine("count"), Is.EqualTo("count 3"), holder.Transcript);
        holder.CloseInput();
        Assert.That(holder.WaitForLine("count"), Is.EqualTo("count 2"), holder.Transcript);
        Assert.That(holder.WaitForExit(), Is.Zero, holder.Transcript);
    }

    [Test]
    public void ShouldRefuseWhatADirectRegionCannotHonourWithNotSupported()
    {
        var holder = Start(Hold, "alpha", "123");
        holder.WaitForLine("holding");
        var alpha = Cluster.Open("alpha");
        var region = alpha.AllocateRegion(123, 8192, ImcPermissions.UserReadWrite | ImcPermissions.GroupReadWrite);

        var isolation = Assert.Throws<ImcException>(() => region.AttachTransmit()); // alpha receives: no loopback isolation
        var pointToPoint = Assert.Throws<ImcException>(() => region.AttachTransmitTo("beta"));
        var drops = Assert.Throws<ImcException>(() => ImcControl.InjectErrors(0, 1, null, Cluster.Options("alpha")));

        foreach (var e in new[] { isolation, pointToPoint, drops })
        {
            Assert.That(e!.Status, Is.EqualTo(ImcStatus.NotSupported), e.Message);
            Assert.That(e.Message, Does.Contain("direct"));
        }
    }

    [Test]
    public void ShouldTakeExample5AsTheFirstProcessAndFreeEverythingAtTheEnd()
    {
        var first = Start(Ex5, "alpha");
        Assert.That(first.WaitForExit(), Is.Zero, first.Transcript);
        var second = Start(Ex5, "beta");
        Assert.That(second.WaitForExit(), Is.Zero, second.Transcript);

        Assert.That(Cluster.ReceiveFiles(), Is.Empty, "every region was deallocated, its memory removed");
    }
}
