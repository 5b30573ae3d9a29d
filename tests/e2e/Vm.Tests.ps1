# The module against a real QEMU VM (tests/e2e/E2eVm.psm1): our agent and Debian's qemu-ga inside
# the guest, reached directly through the VM's chardev socket and through our relay. Every case
# boots its own VM and ends by shutting it down through the agent; AfterAll always kills it by pid.
# Guest-side facts (hashes, pids) come from inside the guest, never from this host.

BeforeDiscovery {
    $script:Cases = foreach ($agent in 'Ours', 'Stock') {
        foreach ($via in 'Direct', 'Relay') { @{ Agent = $agent; Via = $via } }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'E2eVm.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Image = New-E2eImage

    function New-RandomFile([string] $Path, [int] $Bytes, [int] $Seed) {
        $buf = [byte[]]::new($Bytes); [Random]::new($Seed).NextBytes($buf)
        [IO.File]::WriteAllBytes($Path, $buf)
    }

    # sha256 of guest files, computed inside the guest by busybox sha256sum: path -> HASH.
    function Get-GuestHashes([string[]] $Paths) {
        $r = Invoke-VMGuestCommand -Session $S sha256sum -ArgumentList $Paths -Timeout 120
        $r.ExitCode | Should -Be 0 -Because $r.StdErr
        $map = @{}
        foreach ($line in $r.StdOut -split "`n" | Where-Object { $_ }) {
            $hash, $file = $line -split '\s+\*?', 2
            $map[$file] = $hash.ToUpperInvariant()
        }
        return $map
    }

    # qemu-ga 7.2 on a virtio-serial port loses replies to pipelined guest-file-write, which
    # this suite found; Copy-VMGuestFile now writes to a stock agent one request at a time.
    function Invoke-CopyToGuest([hashtable] $Arguments) {
        Copy-VMGuestFile -Session $S -LocalToGuest @Arguments -ErrorAction Stop
    }

    function Get-GuestText([string] $Command) {
        $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', $Command -Timeout 60
        $r.ExitCode | Should -Be 0 -Because "'$Command' failed: $($r.StdErr)"
        return $r.StdOut.Trim()
    }
}

Describe 'A real QEMU VM (TCG), <Agent> agent, <Via>' -ForEach $Cases {
    BeforeAll {
        $script:Vm = $null; $script:Relay = $null
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ('qg-e2e-t-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path $T
        $script:Vm = Start-E2eVm -Image $Image -Agent $Agent -Name "e2e-$($Agent.ToLowerInvariant())"
        Write-Host "    booted $($Vm.Name) (qemu pid $($Vm.Pid)) to first sync in $($Vm.BootSeconds) s"
        if ($Via -eq 'Relay') {
            $script:Relay = Start-E2eRelay -Vm $Vm
            $env:QEMUGUEST_RELAY_DIR = $Relay.Directory
            $script:S = New-VMGuestSession -VMName $Vm.Name -ConnectTimeoutSec 30
        }
        else {
            $script:S = New-VMGuestSession -ConnectionString $Vm.ConnectionString -Name $Vm.Name -ConnectTimeoutSec 30
        }
    }

    AfterAll {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false -ErrorAction SilentlyContinue
        $env:QEMUGUEST_RELAY_DIR = $SavedRelayDir
        try { $script:Relay | Stop-E2eRelay }
        finally {
            if ($script:Vm -and -not $script:Vm.Process.HasExited) {
                Write-Host "    console of $($Vm.Name):`n$(Get-E2eVmConsole $Vm)"
            }
            $script:Vm | Stop-E2eVm
            Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
        }
    }

    It 'answers as the agent it is' {
        Test-VMGuestAgent -Session $S | Should -BeTrue
        $info = Get-VMGuestAgent -Session $S
        if ($Agent -eq 'Stock') { $info.Version | Should -Be $Image.StockAgent.Split(' ')[-1] }
        else { $info.Version | Should -Not -Match '^7\.' }
        @($info.SupportedCommands).Count | Should -BeGreaterThan 20
    }

    It 'reports the guest OS: Debian kernel, host name' {
        $os = Get-VMGuestOSInfo -Session $S
        $os.KernelRelease | Should -Be ($Image.KernelPackage -replace '^linux-image-', '')
        $os.Machine | Should -Be 'x86_64'
        $os.Id | Should -Be 'debian'
        (Get-VMGuestHostName -Session $S).HostName | Should -Be 'qg-e2e'
    }

    It 'lists the network interfaces: lo and the virtio NIC with its QEMU MAC and address' {
        $nics = @(Get-VMGuestNetworkInterface -Session $S)
        $lo = $nics | Where-Object Name -EQ 'lo'
        @($lo.IpAddresses.IpAddress) | Should -Contain '127.0.0.1'
        $eth = $nics | Where-Object Name -EQ 'eth0'
        $eth.HardwareAddress | Should -Be '52:54:00:12:34:56'
        @($eth.IpAddresses | Where-Object IpAddressType -EQ 'ipv4').IpAddress | Should -Contain '10.0.2.15'
    }

    It 'lists the ext4 filesystem on the virtio disk' {
        $fs = @(Get-VMGuestFileSystem -Session $S) | Where-Object Mountpoint -EQ '/mnt/data'
        $fs | Should -Not -BeNullOrEmpty -Because 'init mounts /dev/vda on /mnt/data'
        $fs.Type | Should -Be 'ext4'
        $fs.Name | Should -Be 'vda'
        $fs.TotalBytes | Should -BeGreaterThan 50MB
        @($fs.Disk.BusType) | Should -Contain 'virtio'
    }

    It 'reads the guest clock (from the emulated RTC, close to the host clock)' {
        # The overlay maps the wire's nanoseconds since the epoch to a DateTime (issue 17).
        $guest = (Get-VMGuestTime -Session $S).Time
        $guest | Should -BeOfType [datetime]
        [math]::Abs(([DateTime]::UtcNow - $guest.ToUniversalTime()).TotalSeconds) | Should -BeLessThan 120
    }

    It 'runs a program: exit code, stdout and stderr' {
        $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo "out $(uname -r)"; echo err >&2; exit 7' -Timeout 60
        $r.ExitCode | Should -Be 7
        $r.StdOut | Should -Be "out $($Image.KernelPackage -replace '^linux-image-', '')`n"
        $r.StdErr | Should -Be "err`n"
    }

    It 'copies a 6 MiB file into the guest; the hash computed in the guest matches' {
        New-RandomFile "$T/up.bin" (6MB + 12345) 1
        $res = Invoke-CopyToGuest @{ Source = "$T/up.bin"; Destination = '/mnt/data/up.bin'; Force = $true; PassThru = $true }
        $res.Bytes | Should -Be (6MB + 12345)
        Write-Host ("    to guest: {0:N1} MiB/s" -f ($res.Bytes / 1MB / $res.Duration.TotalSeconds))
        (Get-GuestHashes '/mnt/data/up.bin')['/mnt/data/up.bin'] | Should -Be (Get-FileHash "$T/up.bin" -Algorithm SHA256).Hash
    }

    It 'copies a 5 MiB file made in the guest out of it; the hashes match' {
        $null = Get-GuestText 'head -c 5242881 /dev/urandom > /tmp/down.bin'
        $guestHash = (Get-GuestHashes '/tmp/down.bin')['/tmp/down.bin']
        $res = Copy-VMGuestFile -Session $S -GuestToLocal -Source '/tmp/down.bin' -Destination "$T/down.bin" -Force -PassThru
        Write-Host ("    from guest: {0:N1} MiB/s" -f ($res.Bytes / 1MB / $res.Duration.TotalSeconds))
        (Get-Item "$T/down.bin").Length | Should -Be 5242881
        (Get-FileHash "$T/down.bin" -Algorithm SHA256).Hash | Should -Be $guestHash
    }

    It 'copies a folder in and back out; every file hashed in the guest matches' {
        $null = New-Item -ItemType Directory -Path "$T/tree/sub/deeper", "$T/tree/empty"
        Set-Content "$T/tree/a.txt" 'alpha' -NoNewline
        Set-Content "$T/tree/sub/c.txt" 'charlie ✓ é'
        New-RandomFile "$T/tree/sub/deeper/d.bin" 300000 2
        $up = @(Invoke-CopyToGuest @{ Source = "$T/tree"; Destination = '/mnt/data/tree'; Recurse = $true; Force = $true; Verify = $true; PassThru = $true })
        @($up | Where-Object Verified).Count | Should -Be 3
        $files = @{ 'a.txt' = 'a.txt'; 'sub/c.txt' = 'sub/c.txt'; 'sub/deeper/d.bin' = 'sub/deeper/d.bin' }
        $hashes = Get-GuestHashes ($files.Keys | ForEach-Object { "/mnt/data/tree/$_" })
        foreach ($f in $files.Keys) { $hashes["/mnt/data/tree/$f"] | Should -Be (Get-FileHash "$T/tree/$f" -Algorithm SHA256).Hash -Because $f }
        Get-GuestText 'test -d /mnt/data/tree/empty && echo dir' | Should -Be 'dir'

        $down = @(Copy-VMGuestFile -Session $S -GuestToLocal -Source '/mnt/data/tree' -Destination "$T/back" -Recurse -Force -PassThru)
        $down.Count | Should -BeGreaterOrEqual 3
        foreach ($f in $files.Keys) { (Get-FileHash "$T/back/$f" -Algorithm SHA256).Hash | Should -Be $hashes["/mnt/data/tree/$f"] -Because $f }
        Test-Path "$T/back/empty" -PathType Container | Should -BeTrue
    }

    It 'syncs a folder into the guest: 0 bytes on a second run, then only the one changed file; hashes from the guest match' {
        $null = New-Item -ItemType Directory -Path "$T/sync/sub"
        for ($i = 0; $i -lt 20; $i++) { New-RandomFile "$T/sync/f$i.bin" (20000 + $i) (100 + $i) }
        New-RandomFile "$T/sync/sub/big.bin" (3MB + 7) 3
        $first = Sync-VMGuestItem -Session $S -LocalPath "$T/sync" -GuestPath '/mnt/data/sync' -LocalToGuest -ErrorAction Stop
        $first.Copied.Count | Should -Be 21
        $second = Sync-VMGuestItem -Session $S -LocalPath "$T/sync" -GuestPath '/mnt/data/sync' -LocalToGuest -ErrorAction Stop
        Write-Host "    second sync: BytesMoved $($second.BytesMoved), Hashed $($second.Hashed), $($second.Duration.TotalSeconds.ToString('0.00')) s"
        $second.BytesMoved | Should -Be 0
        $second.Copied | Should -BeNullOrEmpty
        $second.Skipped | Should -Be 21
        # Decided by size and time alone. On the stock path the guest's touch is busybox's, which
        # takes no fraction of a second: before it was given whole seconds, every file kept the
        # time of its copy and this second run hashed all 21 in the guest.
        $second.Hashed | Should -Be 0
        $f = [IO.File]::OpenWrite("$T/sync/f7.bin")
        try { $f.Position = 5; $f.WriteByte(0x5A) } finally { $f.Dispose() }
        [IO.File]::SetLastWriteTimeUtc("$T/sync/f7.bin", [DateTime]::UtcNow.AddMinutes(1))
        $third = Sync-VMGuestItem -Session $S -LocalPath "$T/sync" -GuestPath '/mnt/data/sync' -LocalToGuest -ErrorAction Stop
        $third.Copied | Should -Be @('f7.bin')
        $third.BytesMoved | Should -Be 20007
        (Get-GuestHashes '/mnt/data/sync/f7.bin')['/mnt/data/sync/f7.bin'] | Should -Be (Get-FileHash "$T/sync/f7.bin" -Algorithm SHA256).Hash
        $back = Sync-VMGuestItem -Session $S -LocalPath "$T/sync-back" -GuestPath '/mnt/data/sync' -GuestToLocal -ErrorAction Stop
        $back.Copied.Count | Should -Be 21
        (Sync-VMGuestItem -Session $S -LocalPath "$T/sync-back" -GuestPath '/mnt/data/sync' -GuestToLocal -ErrorAction Stop).BytesMoved | Should -Be 0
        (Get-FileHash "$T/sync-back/sub/big.bin").Hash | Should -Be (Get-FileHash "$T/sync/sub/big.bin").Hash
    }

    It 'keeps working after the agent is killed inside the guest and restarted (the client re-syncs)' {
        $before = Get-GuestText 'cat /run/agent.pid; cat /run/agent.restarts'
        $oldPid, $oldRestarts = $before -split "`n"
        # Killed from a detached child a second later, so this exec's own status is collected
        # first. Nothing is sent while the agent is down (such a request would be lost with it
        # and time out); the guest's /init reports the restart on the serial console.
        $null = Get-GuestText "setsid sh -c 'sleep 1; kill -9 $oldPid' </dev/null >/dev/null 2>&1 &"
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (Select-String -Path $Vm.ConsoleLog -Pattern "agent $([int] $oldRestarts + 1) started" -Quiet)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "the agent was not restarted within 60 s:`n$(Get-E2eVmConsole $Vm)" }
            Start-Sleep -Milliseconds 200
        }
        Select-String -Path $Vm.ConsoleLog -Pattern 'agent exited with 137' -Quiet | Should -BeTrue -Because 'SIGKILL ended the old agent'
        $after = Get-GuestText 'cat /run/agent.pid; cat /run/agent.restarts'
        $newPid, $newRestarts = $after -split "`n"
        $newPid | Should -Not -Be $oldPid
        [int] $newRestarts | Should -Be ([int] $oldRestarts + 1)
        Test-VMGuestAgent -Session $S | Should -BeTrue
        (Get-VMGuestOSInfo -Session $S).Machine | Should -Be 'x86_64'
    }

    It 'shuts the VM down with Stop-VMGuest: the cmdlet reports success and qemu exits' {
        $err = $null
        Stop-VMGuest -Session $S -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable err
        $exit = Wait-E2eVmExit -Vm $Vm -TimeoutSec 60
        $exit | Should -Be 0 -Because "qemu should exit after the guest powers off`n$(Get-E2eVmConsole $Vm)"
        $err | Should -BeNullOrEmpty
    }
}
